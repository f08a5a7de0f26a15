/**
 * Options of `vireo k8s`, checked together: every combination a cluster would reject, or that would
 * silently not do what was asked, is refused here with the reason and what to use instead.
 */
import type { ModelSummary } from '../model-inventory.js';
import { PackagingError } from '../packaging-error.js';

export type ScaleMetric = 'concurrency' | 'rps' | 'cpu';
export type Autoscaler = 'hpa' | 'keda';
export type Target = 'kserve' | 'kubernetes' | 'all';

export interface StorageLocation {
  uri: string;
  scheme: 's3' | 'gs' | 'pvc';
  /** For pvc://<claim>/<path>: the claim and the path inside it. */
  claim?: string;
  path?: string;
}

export interface K8sOptions {
  name: string;
  namespace?: string;
  image: string;
  models: ModelSummary[];
  storage?: StorageLocation;
  target: Target;
  clusterRuntime: boolean;
  minReplicas: number;
  maxReplicas: number;
  scaleMetric: ScaleMetric;
  scaleTarget: number;
  /** Hard limit of in-flight requests per replica (Knative); 0 = unlimited. */
  containerConcurrency: number;
  autoscaler: Autoscaler;
  prometheusAddress: string;
  drainTimeout: number;
  preStopDelay: number;
  resources: { cpu: string; memory: string; cpuLimit?: string; memoryLimit?: string };
}

export type K8sInput = Omit<K8sOptions, 'storage' | 'scaleTarget' | 'containerConcurrency'> & {
  storageUri?: string;
  scaleTarget?: number;
  containerConcurrency?: number;
};

/** Targets that suit a Vireo replica: 8 requests in flight keep batching busy without queueing for long. */
export const DEFAULT_SCALE_TARGET: Record<ScaleMetric, number> = { concurrency: 8, rps: 50, cpu: 70 };

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUANTITY = /^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/;

export function parseStorageUri(uri: string): StorageLocation {
  const match = /^(s3|gs|pvc):\/\/([^/]+)(\/.*)?$/.exec(uri);
  if (!match) throw new PackagingError(`--storage-uri ${uri}: expected s3://<bucket>/<path>, gs://<bucket>/<path> or pvc://<claim>/<path>`);
  const scheme = match[1] as StorageLocation['scheme'];
  if (scheme !== 'pvc') return { uri, scheme };
  const claim = match[2]!;
  if (!DNS_LABEL.test(claim)) throw new PackagingError(`--storage-uri ${uri}: ${claim} is not a valid PersistentVolumeClaim name`);
  const path = (match[3] ?? '').replace(/^\/+|\/+$/g, '');
  if (path.split('/').includes('..')) throw new PackagingError(`--storage-uri ${uri}: the path may not contain ..`);
  return { uri, scheme, claim, path };
}

/** A model name as a Kubernetes object name (DNS-1035 label): lowercase, `_` and `.` become `-`. */
export function resourceName(model: string): string {
  const name = model.toLowerCase().replace(/[_.]/g, '-');
  if (!DNS_LABEL.test(name) || name.length > 63) throw new PackagingError(`model ${model} cannot be an InferenceService name (${name} is not a DNS-1035 label of at most 63 characters)`);
  return name;
}

export function validateK8sOptions(input: K8sInput): K8sOptions {
  const fail = (message: string): never => {
    throw new PackagingError(message);
  };
  if (!DNS_LABEL.test(input.name) || input.name.length > 63) fail(`--name ${input.name}: expected a DNS-1035 label (lowercase letters, digits, -)`);
  if (input.namespace !== undefined && !DNS_LABEL.test(input.namespace)) fail(`--namespace ${input.namespace}: expected a DNS-1123 label`);
  if (!/^\S+$/.test(input.image)) fail('--image: expected an image reference such as registry.example.com/vireo-models:1.0');
  if (input.minReplicas < 0) fail('--min-replicas must be 0 or more');
  if (input.maxReplicas < 1) fail('--max-replicas must be at least 1');
  if (input.minReplicas > input.maxReplicas) fail(`--min-replicas ${input.minReplicas} is greater than --max-replicas ${input.maxReplicas}`);
  const scaleTarget = input.scaleTarget ?? DEFAULT_SCALE_TARGET[input.scaleMetric];
  if (scaleTarget < 1) fail('--scale-target must be at least 1');
  if (input.scaleMetric === 'cpu' && scaleTarget > 100) fail(`--scale-target ${scaleTarget} with --scale-metric cpu: a CPU utilisation target is a percentage (1-100)`);
  const containerConcurrency = input.containerConcurrency ?? (input.scaleMetric === 'concurrency' ? 4 * scaleTarget : 0);
  if (containerConcurrency < 0) fail('--container-concurrency must be 0 (unlimited) or more');
  if (input.scaleMetric === 'concurrency' && containerConcurrency !== 0 && containerConcurrency < scaleTarget) {
    fail(`--container-concurrency ${containerConcurrency} is below --scale-target ${scaleTarget}: a replica could never reach the concurrency that scales it out`);
  }
  const plain = input.target !== 'kserve';
  if (plain && input.minReplicas === 0 && input.autoscaler === 'hpa') {
    fail('--min-replicas 0 needs scale to zero, which a HorizontalPodAutoscaler cannot do: use --autoscaler keda, or --target kserve (Knative)');
  }
  if (plain && input.scaleMetric === 'rps' && input.autoscaler === 'hpa') {
    fail('--scale-metric rps with --autoscaler hpa needs a Prometheus adapter rate rule Vireo does not generate: use --autoscaler keda (a rate() query), or --scale-metric concurrency (vireo_pending_requests)');
  }
  if (input.drainTimeout <= 0) fail('--drain-timeout must be positive');
  if (input.preStopDelay < 0) fail('--prestop-delay must be 0 or more');
  for (const [flag, value] of [['--cpu', input.resources.cpu], ['--memory', input.resources.memory], ['--cpu-limit', input.resources.cpuLimit], ['--memory-limit', input.resources.memoryLimit]] as const) {
    if (value !== undefined && !QUANTITY.test(value)) fail(`${flag} ${value}: expected a Kubernetes quantity such as 500m, 2 or 4Gi`);
  }
  if (!/^https?:\/\/\S+$/.test(input.prometheusAddress)) fail(`--prometheus-address ${input.prometheusAddress}: expected an http(s) URL`);
  const storage = input.storageUri === undefined ? undefined : parseStorageUri(input.storageUri);
  const names = new Map<string, string>();
  for (const model of input.models) {
    const name = resourceName(model.name);
    if (names.has(name)) fail(`models ${names.get(name)} and ${model.name} both become the Kubernetes name ${name}`);
    names.set(name, model.name);
  }
  const { storageUri: _unused, ...rest } = input;
  return { ...rest, storage, scaleTarget, containerConcurrency };
}
