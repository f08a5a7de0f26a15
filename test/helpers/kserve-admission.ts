/**
 * What KServe and Knative do with the manifests `vireo k8s` writes, encoded from their source so a
 * regression fails a test rather than a cluster:
 *
 * - kserveMerge: KServe's merge of a ServingRuntime and an InferenceService into the predictor's pod
 *   (kserve/kserve pkg/controller/v1beta1/inferenceservice/components/predictor.go buildPredictorResources,
 *   buildPodSpec, buildObjectMeta; .../inferenceservice/utils/utils.go MergeRuntimeContainers — a strategic
 *   merge of the runtime's kserve-container with the model container, args concatenated — and MergePodSpec —
 *   only nodeSelector, affinity, tolerations, volumes, imagePullSecrets, schedulerName and resourceClaims come
 *   from the runtime, the predictor's pod fields go on top), and in Knative mode the revision annotations of
 *   pkg/controller/v1alpha1/utils/utils.go SetAutoScalingAnnotations.
 * - knativeAdmission: Knative's webhook on that revision with its default feature flags
 *   (knative/serving pkg/apis/serving/fieldmask.go PodSpecMask, ContainerMask, SecurityContextMask,
 *   VolumeSourceMask, ProbeMask, ContainerPortMask; k8s_validation.go ValidatePodSpec,
 *   validateContainersPorts, validateContainerPorts, validateProbe, ValidateVolumes, reserved ports and env;
 *   pkg/apis/config/features.go defaults; pkg/apis/autoscaling/annotation_validation.go validateMetric).
 * - kserveHpaMetrics / kserveKedaTriggers: what KServe's Standard mode makes of the predictor's autoscaling
 *   (reconcilers/hpa/hpa_reconciler.go getHPAMetrics, reconcilers/keda/keda_reconciler.go getKedaMetrics).
 */
type Obj = Record<string, any>;

/** ModelSpec / PredictorSpec keys that are not container / pod fields. */
const MODEL_ONLY = new Set(['modelFormat', 'runtime', 'protocolVersion', 'storageUri', 'storage', 'runtimeVersion']);
const COMPONENT_EXTENSION = new Set(['minReplicas', 'maxReplicas', 'scaleMetric', 'scaleTarget', 'containerConcurrency', 'timeoutSeconds',
  'canaryTrafficPercent', 'labels', 'annotations', 'logger', 'batcher', 'autoScaling', 'deploymentStrategy', 'storageUris', 'storageContainerName',
  'model', 'workerSpec', 'minReplicas', 'name']);
const RUNTIME_POD_FIELDS = ['nodeSelector', 'affinity', 'tolerations', 'volumes', 'imagePullSecrets', 'schedulerName', 'resourceClaims'];

/** Strategic merge of two lists of objects keyed by `key` (Kubernetes' patchMergeKey): patch entries win. */
function mergeBy(base: Obj[] | undefined, patch: Obj[] | undefined, key: string): Obj[] | undefined {
  if (!patch) return base;
  const out = [...(base ?? [])];
  for (const entry of patch) {
    const i = out.findIndex((e) => e[key] === entry[key]);
    if (i >= 0) out[i] = { ...out[i], ...entry };
    else out.push(entry);
  }
  return out;
}

export function mergeContainers(runtime: Obj, model: Obj): Obj {
  const patch = Object.fromEntries(Object.entries(model).filter(([k]) => !MODEL_ONLY.has(k)));
  const merged: Obj = { ...runtime, ...patch };
  merged.env = mergeBy(runtime.env, patch.env, 'name');
  merged.volumeMounts = mergeBy(runtime.volumeMounts, patch.volumeMounts, 'mountPath');
  merged.ports = mergeBy(runtime.ports, patch.ports, 'containerPort');
  merged.args = [...(runtime.args ?? []), ...(model.args ?? [])];
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  return merged;
}

export interface MergedPredictor {
  mode: 'Knative' | 'Standard';
  podSpec: Obj;
  /** Knative: the revision template's annotations; Standard: the Deployment's. */
  annotations: Record<string, string>;
  predictor: Obj;
}

export function kserveMerge(runtime: Obj, isvc: Obj): MergedPredictor {
  const predictor = isvc.spec.predictor;
  const runtimeContainer = runtime.spec.containers.find((c: Obj) => c.name === 'kserve-container');
  if (!runtimeContainer) throw new Error('failed to find kserve-container in ServingRuntime containers');
  const container = mergeContainers(runtimeContainer, predictor.model);
  const podSpec: Obj = {};
  for (const field of RUNTIME_POD_FIELDS) if (runtime.spec[field] !== undefined) podSpec[field] = runtime.spec[field];
  for (const [k, v] of Object.entries(predictor)) {
    if (COMPONENT_EXTENSION.has(k)) continue;
    podSpec[k] = k === 'volumes' ? mergeBy(podSpec.volumes, v as Obj[], 'name') : v;
  }
  podSpec.containers = [{ ...container, env: [...(container.env ?? []), { name: 'INFERENCE_SERVICE_NAME', value: isvc.metadata.name }] }];
  const mode = isvc.metadata.annotations?.['serving.kserve.io/deploymentMode'] === 'Standard' ? 'Standard' : 'Knative';
  const annotations: Record<string, string> = { ...(runtime.spec.annotations ?? {}), ...(isvc.metadata.annotations ?? {}), ...(predictor.annotations ?? {}) };
  if (predictor.model.storageUri) annotations['internal.serving.kserve.io/storage-initializer-sourceuri'] = predictor.model.storageUri;
  if (mode === 'Knative') {
    annotations['autoscaling.knative.dev/class'] ??= 'kpa.autoscaling.knative.dev';
    if (predictor.scaleTarget !== undefined) annotations['autoscaling.knative.dev/target'] = String(predictor.scaleTarget);
    if (predictor.scaleMetric !== undefined) annotations['autoscaling.knative.dev/metric'] = predictor.scaleMetric;
    annotations['autoscaling.knative.dev/min-scale'] = String(predictor.minReplicas ?? 1);
    if (predictor.maxReplicas) annotations['autoscaling.knative.dev/max-scale'] = String(predictor.maxReplicas);
  }
  return { mode, podSpec, annotations, predictor };
}

const POD_ALLOWED = new Set(['serviceAccountName', 'containers', 'volumes', 'imagePullSecrets', 'enableServiceLinks', 'automountServiceAccountToken']);
const CONTAINER_ALLOWED = new Set(['name', 'args', 'command', 'env', 'workingDir', 'envFrom', 'image', 'imagePullPolicy', 'livenessProbe', 'ports',
  'readinessProbe', 'resources', 'securityContext', 'startupProbe', 'terminationMessagePath', 'terminationMessagePolicy', 'volumeMounts']);
const SECURITY_CONTEXT_ALLOWED = new Set(['capabilities', 'readOnlyRootFilesystem', 'runAsUser', 'runAsGroup', 'runAsNonRoot', 'allowPrivilegeEscalation', 'seccompProfile', 'privileged']);
const PROBE_ALLOWED = new Set(['exec', 'httpGet', 'tcpSocket', 'grpc', 'initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold', 'terminationGracePeriodSeconds']);
/** Volume sources with the default features: emptyDir Enabled, PVC, hostPath, CSI, ephemeral and image Disabled. */
const VOLUME_SOURCES_ALLOWED = new Set(['secret', 'configMap', 'projected', 'emptyDir']);
/** networking.BackendHTTPPort, BackendHTTP2Port, QueueAdminPort, AutoscalingQueueMetricsPort, UserQueueMetricsPort, profiling. */
const RESERVED_PORTS = new Set([8012, 8013, 8022, 9090, 9091, 8008]);
const RESERVED_ENV = new Set(['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION']);
const CONTAINER_CONCURRENCY_MAX = 1000;
const MAX_REVISION_TIMEOUT = 600;

/** Knative's webhook verdict on a revision: the list of refusals, empty when admitted. */
export function knativeAdmission(merged: MergedPredictor): string[] {
  const errors: string[] = [];
  const pod = merged.podSpec;
  for (const key of Object.keys(pod)) {
    if (!POD_ALLOWED.has(key)) errors.push(`must not set the field(s): spec.${key}`);
    else if (key === 'automountServiceAccountToken' && pod[key] !== false) errors.push('must not set the field(s): spec.automountServiceAccountToken');
  }
  const mounted = new Set(pod.containers.flatMap((c: Obj) => (c.volumeMounts ?? []).map((m: Obj) => m.name)));
  for (const volume of pod.volumes ?? []) {
    if (!mounted.has(volume.name)) errors.push(`volume with name "${volume.name}" not mounted`);
    for (const source of Object.keys(volume).filter((k) => k !== 'name')) {
      if (!VOLUME_SOURCES_ALLOWED.has(source)) errors.push(`volumes.${volume.name}: ${source} volume support is disabled`);
    }
    if (volume.emptyDir?.medium && volume.emptyDir.medium !== 'Memory') errors.push(`volumes.${volume.name}: invalid emptyDir medium`);
  }
  const ports = pod.containers.flatMap((c: Obj) => c.ports ?? []);
  if (ports.length > 1) errors.push('more than one container port is set: Only a single port is allowed across all containers');
  const port = ports[0] ?? { name: 'http', containerPort: 8080 };
  for (const p of ports) {
    if (!['h2c', 'http1', ''].includes(p.name ?? '')) errors.push(`Port name ${p.name} is not allowed`);
    if (p.protocol && p.protocol !== 'TCP') errors.push(`invalid value: ${p.protocol}: protocol`);
    if (RESERVED_PORTS.has(p.containerPort)) errors.push(`${p.containerPort} is a reserved port`);
    for (const key of Object.keys(p)) if (!['containerPort', 'name', 'protocol'].includes(key)) errors.push(`must not set the field(s): ports.${key}`);
  }
  for (const container of pod.containers) {
    for (const key of Object.keys(container)) if (!CONTAINER_ALLOWED.has(key)) errors.push(`must not set the field(s): containers.${container.name}.${key}`);
    for (const key of Object.keys(container.securityContext ?? {})) {
      if (!SECURITY_CONTEXT_ALLOWED.has(key) || (key === 'privileged' && container.securityContext[key] !== false)) errors.push(`must not set the field(s): securityContext.${key}`);
    }
    if (container.securityContext?.capabilities?.add) errors.push('must not set the field(s): securityContext.capabilities.add');
    for (const env of container.env ?? []) {
      if (RESERVED_ENV.has(env.name)) errors.push(`"${env.name}" is a reserved environment variable`);
      if (env.valueFrom?.fieldRef || env.valueFrom?.resourceFieldRef) errors.push(`must not set the field(s): env.${env.name}.valueFrom.fieldRef`);
    }
    for (const name of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      const probe = container[name];
      if (!probe) continue;
      for (const key of Object.keys(probe)) if (!PROBE_ALLOWED.has(key)) errors.push(`must not set the field(s): ${name}.${key}`);
      const handlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter((h) => probe[h]);
      if (handlers.length !== 1) errors.push(`${name}: expected exactly one of httpGet, tcpSocket, exec, grpc`);
      const probePort = probe.httpGet?.port ?? probe.tcpSocket?.port;
      if (typeof probePort === 'string' && probePort !== port.name) errors.push(`${name}: Probe port must match container port`);
    }
  }
  const annotations = merged.annotations;
  const klass = annotations['autoscaling.knative.dev/class'] ?? 'kpa.autoscaling.knative.dev';
  const metric = annotations['autoscaling.knative.dev/metric'];
  if (metric !== undefined && klass === 'kpa.autoscaling.knative.dev' && !['concurrency', 'rps'].includes(metric)) errors.push(`invalid value: ${metric}: autoscaling.knative.dev/metric`);
  if (metric === '' && klass === 'hpa.autoscaling.knative.dev') errors.push('invalid value: autoscaling.knative.dev/metric');
  const min = Number(annotations['autoscaling.knative.dev/min-scale'] ?? 0);
  const max = Number(annotations['autoscaling.knative.dev/max-scale'] ?? 0);
  if (max !== 0 && min > max) errors.push('min-scale is greater than max-scale');
  if ((merged.predictor.containerConcurrency ?? 0) > CONTAINER_CONCURRENCY_MAX) errors.push('containerConcurrency above container-concurrency-max-limit');
  if ((merged.predictor.timeoutSeconds ?? 0) > MAX_REVISION_TIMEOUT) errors.push('timeoutSeconds above max-revision-timeout-seconds');
  return errors;
}

/** The metrics of the HPA KServe's Standard mode creates (autoscalerClass hpa), as getHPAMetrics builds them. */
export function kserveHpaMetrics(predictor: Obj): Obj[] {
  if (predictor.autoScaling) {
    return (predictor.autoScaling.metrics ?? []).filter((m: Obj) => m.resource && ['cpu', 'memory'].includes(m.resource.name))
      .map((m: Obj) => ({ type: 'Resource', resource: { name: m.resource.name, target: m.resource.target } }));
  }
  const resource = predictor.scaleMetric ?? 'cpu';
  if (resource === 'cpu') return [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: predictor.scaleTarget ?? 80 } } }];
  if (resource === 'memory' && predictor.scaleTarget !== undefined) return [{ type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: predictor.scaleTarget } } }];
  return []; // concurrency, rps: no metric at all — Kubernetes then runs the HPA on 80 % CPU
}

/** The triggers of the ScaledObject KServe's Standard mode creates (autoscalerClass keda), as getKedaMetrics builds them. */
export function kserveKedaTriggers(predictor: Obj): Obj[] {
  return (predictor.autoScaling?.metrics ?? []).flatMap((m: Obj) => {
    if (m.type === 'Resource') return [{ type: m.resource.name, metadata: { value: String(m.resource.target.averageUtilization ?? m.resource.target.value ?? '0') } }];
    if (m.type === 'External') return [{ type: m.external.metric.backend, metadata: { serverAddress: m.external.metric.serverAddress, query: m.external.metric.query, threshold: String(m.external.target.value ?? '0') } }];
    return [];
  });
}
