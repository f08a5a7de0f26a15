/**
 * `vireo k8s --batch-job`: a Kubernetes `batch/v1` Job that runs `vireo batch` as an Indexed Job.
 * Each of `shards` completion indexes is one shard (Kubernetes sets JOB_COMPLETION_INDEX, the Job sets
 * VIREO_SHARD_COUNT), `parallelism` of them run at once, and a failed index is retried on its own
 * (`backoffLimitPerIndex`) — the retry resumes from the shard's committed parts, so nothing is redone.
 *
 * podFailurePolicy: a pod evicted, preempted or drained (condition DisruptionTarget) is ignored —
 * it does not count against the retries; exit code 3 (`vireo batch` refusing its job: bad input,
 * changed output folder, too many failed rows, unknown model) fails the index at once, since a retry
 * would fail the same way; anything else (a crash, an OOM kill) is retried.
 *
 * Volumes: input and models come from a PersistentVolumeClaim (pvc://claim/path, mounted read-only)
 * or object storage (s3://, gs://, downloaded by KServe's storage initializer in an init container,
 * as the serving manifests do); without a model URI the models in the image are used. The output must
 * be a PVC every pod can write (ReadWriteMany): parts are committed by rename, which object storage
 * cannot do atomically.
 *
 * Self-contained on purpose: the serving manifests' helpers may change without touching the Job.
 */
import { APP_DIR, IMAGE_UID, MODELS_DIR } from '../containerfile.js';
import { PackagingError } from '../packaging-error.js';

export const BATCH_STORAGE_INITIALIZER_IMAGE = 'kserve/storage-initializer:v0.15.2';
/** `vireo batch` exits with this code when retrying cannot help (VireoError of the job's own making). */
export const BATCH_PERMANENT_EXIT_CODE = 3;

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUANTITY = /^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/;
const MOUNTS = { input: '/mnt/input', output: '/mnt/output', models: '/mnt/models' } as const;
const METRICS_PORT = 8002;

export interface BatchJobInput {
  name: string;
  namespace?: string;
  image: string;
  model: string;
  version?: string;
  /** Known models of the repository (to refuse a typo before the cluster does). */
  knownModels: readonly string[];
  /** pvc://claim/path, s3://bucket/path or gs://bucket/path. */
  inputUri: string;
  /** Paths or globs inside the input, relative to it; default: the whole input folder. */
  inputPaths: readonly string[];
  /** pvc://claim/path, writable by every pod. */
  outputUri: string;
  /** Where the model repository is; absent: the models in the image. */
  modelUri?: string;
  shards: number;
  parallelism: number;
  backoffLimitPerIndex: number;
  /** Extra `vireo batch` arguments (e.g. --output-format=parquet, --max-errors=100). */
  batchArgs: readonly string[];
  resources: { cpu: string; memory: string; cpuLimit?: string; memoryLimit?: string };
  /** Seconds before Kubernetes deletes the finished Job (absent: kept). */
  ttlSecondsAfterFinished?: number;
}

interface Location { uri: string; scheme: 'pvc' | 's3' | 'gs'; claim?: string; path?: string }

function parseUri(flag: string, uri: string, writable: boolean): Location {
  const match = /^(s3|gs|pvc):\/\/([^/]+)(\/.*)?$/.exec(uri);
  if (!match) throw new PackagingError(`${flag} ${uri}: expected pvc://<claim>/<path>${writable ? '' : ', s3://<bucket>/<path> or gs://<bucket>/<path>'}`);
  const scheme = match[1] as Location['scheme'];
  if (writable && scheme !== 'pvc') throw new PackagingError(`${flag} ${uri}: the output must be a PersistentVolumeClaim (pvc://) every pod can write; object storage cannot rename a part into place atomically`);
  if (scheme !== 'pvc') return { uri, scheme };
  const claim = match[2]!;
  if (!DNS_LABEL.test(claim)) throw new PackagingError(`${flag} ${uri}: ${claim} is not a valid PersistentVolumeClaim name`);
  const path = (match[3] ?? '').replace(/^\/+|\/+$/g, '');
  if (path.split('/').includes('..')) throw new PackagingError(`${flag} ${uri}: the path may not contain ..`);
  return { uri, scheme, claim, path };
}

/** Volume, mount and (for object storage) init container of one location. */
function volumeOf(name: string, location: Location, mountPath: string, readOnly: boolean) {
  if (location.scheme === 'pvc') {
    return {
      volume: { name, persistentVolumeClaim: { claimName: location.claim!, readOnly } },
      mount: { name, mountPath, readOnly, ...(location.path ? { subPath: location.path } : {}) },
    };
  }
  return {
    volume: { name, emptyDir: {} },
    mount: { name, mountPath, readOnly: true },
    init: {
      name: `${name}-initializer`,
      image: BATCH_STORAGE_INITIALIZER_IMAGE,
      args: [location.uri, mountPath],
      volumeMounts: [{ name, mountPath }],
      resources: { requests: { cpu: '100m', memory: '100Mi' }, limits: { memory: '1Gi' } },
    },
  };
}

export function batchJobManifest(input: BatchJobInput): Record<string, unknown> {
  const fail = (message: string): never => {
    throw new PackagingError(message);
  };
  if (!DNS_LABEL.test(input.name) || input.name.length > 63) fail(`--name ${input.name}: expected a DNS-1035 label (lowercase letters, digits, -)`);
  if (input.namespace !== undefined && !DNS_LABEL.test(input.namespace)) fail(`--namespace ${input.namespace}: expected a DNS-1123 label`);
  if (!/^\S+$/.test(input.image)) fail('--image: expected an image reference');
  if (!input.knownModels.includes(input.model)) fail(`--batch-model ${input.model}: not a model of the repository (it has ${input.knownModels.join(', ')})`);
  if (!Number.isInteger(input.shards) || input.shards < 1 || input.shards > 100_000) fail('--shards: expected an integer from 1 to 100000 (Kubernetes\' limit of completions for an Indexed Job)');
  if (!Number.isInteger(input.parallelism) || input.parallelism < 1) fail('--parallelism must be at least 1');
  if (!Number.isInteger(input.backoffLimitPerIndex) || input.backoffLimitPerIndex < 0) fail('--backoff-limit-per-index must be 0 or more');
  for (const [flag, value] of [['--cpu', input.resources.cpu], ['--memory', input.resources.memory], ['--cpu-limit', input.resources.cpuLimit], ['--memory-limit', input.resources.memoryLimit]] as const) {
    if (value !== undefined && !QUANTITY.test(value)) fail(`${flag} ${value}: expected a Kubernetes quantity such as 500m, 2 or 4Gi`);
  }
  for (const path of input.inputPaths) if (path.startsWith('/') || path.split('/').includes('..')) fail(`--batch-input-path ${path}: expected a path inside the input (relative, no ..)`);
  if (input.batchArgs.some((a) => /^--(input|output|model|model-repository|shard|shard-count)(=|$)/.test(a))) fail('--batch-arg: --input, --output, --model, --model-repository and the shard are set by the Job itself');

  const volumes = [
    volumeOf('input', parseUri('--input-uri', input.inputUri, false), MOUNTS.input, true),
    volumeOf('output', parseUri('--output-uri', input.outputUri, true), MOUNTS.output, false),
    ...(input.modelUri ? [volumeOf('models', parseUri('--storage-uri', input.modelUri, false), MOUNTS.models, true)] : []),
  ];
  const inits = volumes.flatMap((v) => ('init' in v && v.init ? [v.init] : []));
  const repository = input.modelUri ? MOUNTS.models : MODELS_DIR;
  const inputs = input.inputPaths.length > 0 ? input.inputPaths.map((p) => `${MOUNTS.input}/${p}`) : [MOUNTS.input];
  const limits: Record<string, string> = { memory: input.resources.memoryLimit ?? input.resources.memory };
  if (input.resources.cpuLimit) limits.cpu = input.resources.cpuLimit;
  const labels = { 'app.kubernetes.io/name': 'vireo-batch', 'app.kubernetes.io/instance': input.name, 'app.kubernetes.io/managed-by': 'vireo-k8s' };

  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: input.name, ...(input.namespace ? { namespace: input.namespace } : {}), labels },
    spec: {
      completionMode: 'Indexed',
      completions: input.shards,
      parallelism: Math.min(input.parallelism, input.shards),
      backoffLimitPerIndex: input.backoffLimitPerIndex,
      // The Job as a whole gives up only when every index did (each has its own retries).
      maxFailedIndexes: input.shards,
      ...(input.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: input.ttlSecondsAfterFinished } : {}),
      podFailurePolicy: {
        rules: [
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
          { action: 'FailIndex', onExitCodes: { containerName: 'vireo-batch', operator: 'In', values: [BATCH_PERMANENT_EXIT_CODE] } },
        ],
      },
      template: {
        metadata: { labels },
        spec: {
          // podFailurePolicy requires Never: a retry is a new pod, which the policy can judge.
          restartPolicy: 'Never',
          securityContext: { runAsNonRoot: true, runAsUser: IMAGE_UID, runAsGroup: IMAGE_UID, fsGroup: IMAGE_UID, seccompProfile: { type: 'RuntimeDefault' } },
          ...(inits.length > 0 ? { initContainers: inits } : {}),
          containers: [{
            name: 'vireo-batch',
            image: input.image,
            command: ['node', `${APP_DIR}/bin/vireo.js`, 'batch'],
            args: [
              `--model-repository=${repository}`,
              `--model=${input.model}`,
              ...(input.version ? [`--version=${input.version}`] : []),
              ...inputs.map((p) => `--input=${p}`),
              `--output=${MOUNTS.output}`,
              `--metrics-port=${METRICS_PORT}`,
              '--metrics-address=0.0.0.0',
              '--log-format=json',
              ...input.batchArgs,
            ],
            // JOB_COMPLETION_INDEX comes from Kubernetes; the count from here.
            env: [{ name: 'VIREO_SHARD_COUNT', value: String(input.shards) }],
            ports: [{ name: 'metrics', containerPort: METRICS_PORT }],
            resources: { requests: { cpu: input.resources.cpu, memory: input.resources.memory }, limits },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: [...volumes.map((v) => v.mount), { name: 'tmp', mountPath: '/tmp' }],
          }],
          volumes: [...volumes.map((v) => v.volume), { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }],
        },
      },
    },
  };
}
