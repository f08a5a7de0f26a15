/**
 * Options of `vireo k8s`, checked together: every combination a cluster would reject, or that would
 * silently not do what was asked (an autoscaler without a signal, a scale to zero nothing can wake), is
 * refused here with a one-line reason and what to use instead.
 *
 * Deployment modes are KServe's (`serving.kserve.io/deploymentMode`): `knative` (a Knative Service per
 * InferenceService; the mode KServe's Helm chart installs by default, charts/kserve-resources/values.yaml
 * `deploymentMode: Knative`) and `standard` (a Deployment, Service and HPA or KEDA ScaledObject; formerly
 * RawDeployment). The plain Kubernetes target has no KServe and so no mode.
 */
import type { ModelSummary } from '../model-inventory.js';
import { PackagingError } from '../packaging-error.js';

export type ScaleMetric = 'concurrency' | 'rps' | 'cpu';
export type Autoscaler = 'hpa' | 'keda';
export type Target = 'kserve' | 'kubernetes' | 'all';
export type DeploymentMode = 'knative' | 'standard';
/** Which Vireo protocol the platform routes to: Knative routes exactly one port per revision. */
export type Protocol = 'http' | 'grpc' | 'both';

export const DEPLOYMENT_MODES: readonly DeploymentMode[] = ['knative', 'standard'];
export const PROTOCOLS: readonly Protocol[] = ['http', 'grpc', 'both'];

export interface StorageLocation {
  uri: string;
  scheme: 's3' | 'gs' | 'pvc' | 'oci';
  /** For pvc://<claim>/<path>: the claim and the path inside it. */
  claim?: string;
  path?: string;
}

export interface K8sOptions {
  name: string;
  namespace?: string;
  image: string;
  models: ModelSummary[];
  /** Every model of the repository (not only the chosen ones): a service sees all of them in its storage. */
  repositoryModels: string[];
  storage?: StorageLocation;
  target: Target;
  deploymentMode: DeploymentMode;
  protocol: Protocol;
  clusterRuntime: boolean;
  /** autoSelect priority for the onnx format; undefined: Vireo's runtime is picked only by name. */
  autoSelectPriority?: number;
  serviceAccount?: string;
  /** Secret with storage credentials for the plain Deployment's storage initializer. */
  storageSecret?: string;
  /** Secret (key `token`) holding the control API token of services that load one model of many. */
  controlTokenSecret: string;
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

export type K8sInput = Omit<K8sOptions, 'storage' | 'scaleTarget' | 'containerConcurrency' | 'deploymentMode' | 'protocol' | 'controlTokenSecret' | 'repositoryModels'> & {
  storageUri?: string;
  scaleTarget?: number;
  containerConcurrency?: number;
  deploymentMode?: DeploymentMode;
  protocol?: Protocol;
  controlTokenSecret?: string;
  repositoryModels?: string[];
};

/** Targets that suit a Vireo replica: 8 requests in flight keep batching busy without queueing for long. */
export const DEFAULT_SCALE_TARGET: Record<ScaleMetric, number> = { concurrency: 8, rps: 50, cpu: 70 };
/** KServe's chart default (charts/kserve-resources/values.yaml). */
export const DEFAULT_DEPLOYMENT_MODE: DeploymentMode = 'knative';
/** Knative's default revision timeout, which is also the pod's terminationGracePeriodSeconds. */
export const KNATIVE_DEFAULT_TIMEOUT_SECONDS = 300;
/** Knative's default max-revision-timeout-seconds (config-defaults). */
export const KNATIVE_MAX_TIMEOUT_SECONDS = 600;

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUANTITY = /^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/;
// An image reference as KServe's modelcar takes it after oci://: registry/path[:tag][@digest].
const OCI_REFERENCE = /^[a-z0-9.-]+(?::\d+)?\/[a-z0-9._\/-]+(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

export function parseStorageUri(uri: string): StorageLocation {
  if (uri.startsWith('oci://')) {
    if (!OCI_REFERENCE.test(uri.slice(6))) throw new PackagingError(`--storage-uri ${uri}: expected oci://<registry>/<repository>[:tag][@sha256:<digest>] (an image from vireo build --models-only)`);
    return { uri, scheme: 'oci' };
  }
  const match = /^(s3|gs|pvc):\/\/([^/]+)(\/.*)?$/.exec(uri);
  if (!match) throw new PackagingError(`--storage-uri ${uri}: expected s3://<bucket>/<path>, gs://<bucket>/<path>, pvc://<claim>/<path> or oci://<image>`);
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

/** Refusals that depend on where the manifests run: scale to zero, metrics each autoscaler can read. */
function checkAutoscaling(input: K8sInput, mode: DeploymentMode, fail: (message: string) => never): void {
  const kserve = input.target !== 'kubernetes';
  const plain = input.target !== 'kserve';
  if (kserve && mode === 'knative' && input.scaleMetric === 'cpu' && input.minReplicas === 0) {
    fail('--scale-metric cpu in Knative mode uses Knative\'s HPA class, which cannot scale to zero: use --scale-metric concurrency or rps (KPA), or --min-replicas 1');
  }
  if (input.minReplicas === 0 && (plain || mode === 'standard')) {
    const where = plain ? 'the plain Kubernetes Deployment' : 'KServe\'s Standard mode';
    fail(`--min-replicas 0 for ${where}: with no pod there is no vireo_pending_requests series, so nothing would ever scale it back up; use --deployment-mode knative --target kserve (Knative's activator holds requests and wakes a replica)`);
  }
  const needsRate = input.scaleMetric === 'rps' && input.autoscaler === 'hpa';
  if (needsRate && (plain || mode === 'standard')) {
    fail('--scale-metric rps with --autoscaler hpa needs a Prometheus adapter rate rule Vireo does not generate: use --autoscaler keda (a rate() query), or --scale-metric concurrency (vireo_pending_requests)');
  }
  const queriesPrometheus = input.autoscaler === 'keda' && input.scaleMetric !== 'cpu' && (plain || mode === 'standard');
  if (queriesPrometheus && input.namespace === undefined) {
    fail('--autoscaler keda queries Prometheus, and a query must name the namespace its pods run in (kubectl\'s current namespace cannot reach inside it): give --namespace');
  }
}

export function validateK8sOptions(input: K8sInput): K8sOptions {
  const fail = (message: string): never => {
    throw new PackagingError(message);
  };
  const deploymentMode = input.deploymentMode ?? DEFAULT_DEPLOYMENT_MODE;
  if (!DEPLOYMENT_MODES.includes(deploymentMode)) fail(`--deployment-mode ${deploymentMode}: expected knative or standard`);
  const kserve = input.target !== 'kubernetes';
  const protocol = input.protocol ?? (kserve && deploymentMode === 'knative' ? 'http' : 'both');
  if (!PROTOCOLS.includes(protocol)) fail(`--protocol ${protocol}: expected http, grpc or both`);
  if (kserve && deploymentMode === 'knative' && protocol === 'both') {
    fail('--protocol both in Knative mode: a Knative revision routes exactly one port (knative/serving validateContainersPorts), so choose http or grpc, or use --deployment-mode standard');
  }
  if (!DNS_LABEL.test(input.name) || input.name.length > 63) fail(`--name ${input.name}: expected a DNS-1035 label (lowercase letters, digits, -)`);
  if (input.namespace !== undefined && !DNS_LABEL.test(input.namespace)) fail(`--namespace ${input.namespace}: expected a DNS-1123 label`);
  if (!/^\S+$/.test(input.image)) fail('--image: expected an image reference such as registry.example.com/vireo-models:1.0');
  if (input.serviceAccount !== undefined && !DNS_SUBDOMAIN.test(input.serviceAccount)) fail(`--service-account ${input.serviceAccount}: expected a DNS-1123 subdomain`);
  const controlTokenSecret = input.controlTokenSecret ?? `${input.name}-control-token`;
  for (const [flag, value] of [['--storage-secret', input.storageSecret], ['--control-token-secret', controlTokenSecret]] as const) {
    if (value !== undefined && (!DNS_SUBDOMAIN.test(value) || value.length > 253)) fail(`${flag} ${value}: expected a Secret name (DNS-1123 subdomain)`);
  }
  if (input.autoSelectPriority !== undefined && (!Number.isInteger(input.autoSelectPriority) || input.autoSelectPriority < 1)) fail('--auto-select-priority must be a positive integer');
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
  checkAutoscaling(input, deploymentMode, fail);
  if (input.drainTimeout <= 0) fail('--drain-timeout must be positive');
  // The drain plus the forced-exit wait (10 s) and a margin (5 s) must fit Knative's largest revision timeout.
  if (kserve && deploymentMode === 'knative' && input.drainTimeout + 15 > KNATIVE_MAX_TIMEOUT_SECONDS) {
    fail(`--drain-timeout ${input.drainTimeout} in Knative mode: the pod's grace period is the revision timeout, at most ${KNATIVE_MAX_TIMEOUT_SECONDS} s by Knative's default max-revision-timeout-seconds; use a drain of at most ${KNATIVE_MAX_TIMEOUT_SECONDS - 15} s`);
  }
  if (input.preStopDelay < 0) fail('--prestop-delay must be 0 or more');
  for (const [flag, value] of [['--cpu', input.resources.cpu], ['--memory', input.resources.memory], ['--cpu-limit', input.resources.cpuLimit], ['--memory-limit', input.resources.memoryLimit]] as const) {
    if (value !== undefined && !QUANTITY.test(value)) fail(`${flag} ${value}: expected a Kubernetes quantity such as 500m, 2 or 4Gi`);
  }
  if (!/^https?:\/\/\S+$/.test(input.prometheusAddress)) fail(`--prometheus-address ${input.prometheusAddress}: expected an http(s) URL`);
  const storage = input.storageUri === undefined ? undefined : parseStorageUri(input.storageUri);
  if (input.storageSecret !== undefined) {
    if (!storage || (storage.scheme !== 's3' && storage.scheme !== 'gs')) fail('--storage-secret holds s3:// or gs:// credentials: give an s3:// or gs:// --storage-uri');
    if (kserve && input.serviceAccount === undefined) {
      fail('--storage-secret: KServe\'s storage initializer reads credentials from the secrets of the predictor\'s service account, so also give --service-account (and attach the secret to it, docs/deploy.md)');
    }
  }
  if (storage?.scheme === 'oci' && input.target !== 'kserve') {
    fail('--storage-uri oci:// is a KServe modelcar; a plain Deployment runs an image with its models (vireo build): use --target kserve');
  }
  const names = new Map<string, string>();
  for (const model of input.models) {
    const name = resourceName(model.name);
    if (names.has(name)) fail(`models ${names.get(name)} and ${model.name} both become the Kubernetes name ${name}`);
    names.set(name, model.name);
  }
  const { storageUri: _unused, ...rest } = input;
  return {
    ...rest, storage, scaleTarget, containerConcurrency, deploymentMode, protocol, controlTokenSecret,
    repositoryModels: input.repositoryModels ?? input.models.map((m) => m.name),
  };
}
