/**
 * KServe manifests: a ServingRuntime (or ClusterServingRuntime) that runs Vireo, and one InferenceService
 * per model using it, for one KServe deployment mode (`serving.kserve.io/deploymentMode`, written on every
 * InferenceService so the cluster's default cannot pick the other one).
 *
 * What reaches the cluster is KServe's merge of the two (kserve pkg/controller/v1beta1/inferenceservice/
 * components/predictor.go buildPodSpec and utils.go MergeRuntimeContainers/MergePodSpec): the runtime's
 * `kserve-container` patched with the InferenceService's model container, args appended; the runtime's
 * volumes, node selector, tolerations and pull secrets under the predictor's pod fields. In Knative mode that
 * pod spec becomes a Knative Service unchanged, so it may hold only what Knative's field masks admit
 * (test/unit/kserve-admission.test.ts encodes both).
 *
 * Model loading, safe by default: a service that needs every model it sees (a handler or an ensemble calling
 * others, or a repository of one model) runs `--model-control-mode=none`, which has no control API at all.
 * A service picking its model out of a shared repository runs explicit mode with `--load-model=<model>`, and
 * its control API then answers only bearer-token holders: the token comes from a Secret, mounted as a file
 * (VIREO_CONTROL_TOKEN_FILE). The loopback check alone would open it to the world behind Knative, whose
 * queue-proxy forwards every request from 127.0.0.1.
 *
 * Storage: with a storage URI every InferenceService's storageUri is the repository root; KServe's storage
 * initializer downloads it into /mnt/models (pvc:// is mounted there; oci:// runs the model image as a
 * modelcar beside Vireo). Credentials come from the predictor's service account (KServe's credential builder
 * reads the secrets attached to it). Without a storage URI the models baked into the image are served.
 * Ports follow KServe's runtimes: HTTP 8080, gRPC 9000 (h2c); metrics on 8002, announced with KServe's
 * prometheus.kserve.io annotations.
 */
import type { K8sOptions } from './k8s-options.js';
import { resourceName } from './k8s-options.js';
import { serviceAutoscaling } from './kserve-autoscaling.js';
import { grpcProbes, knativeTimeoutSeconds, lifecycle, probes, resources, securityContext, terminationGracePeriod, tmpMount, vireoArgs, WAIT_FOR_MODELS, type Ports } from './vireo-container.js';

export const KSERVE_PORTS: Ports = { http: 8080, grpc: 9000, metrics: 8002 };
/** Where the control token Secret is mounted, and the key it is read from. */
export const CONTROL_TOKEN_DIR = '/var/run/secrets/vireo-control';
export const CONTROL_TOKEN_KEY = 'token';

type Manifest = Record<string, unknown>;
type Model = K8sOptions['models'][number];

const MODE_ANNOTATION: Record<K8sOptions['deploymentMode'], string> = { knative: 'Knative', standard: 'Standard' };

function labels(options: K8sOptions) {
  return { 'app.kubernetes.io/name': 'vireo', 'app.kubernetes.io/instance': options.name, 'app.kubernetes.io/managed-by': 'vireo-k8s' };
}

/** A cluster-scoped object (ClusterServingRuntime) takes no namespace. */
function metadata(name: string, options: K8sOptions, clusterScoped = false) {
  return { name, ...(options.namespace && !clusterScoped ? { namespace: options.namespace } : {}), labels: labels(options) };
}

/** The one port Knative routes, or HTTP and gRPC (h2c: KServe's Service gives it appProtocol kubernetes.io/h2c). */
function ports(options: K8sOptions) {
  const http = { name: 'http1', containerPort: KSERVE_PORTS.http, protocol: 'TCP' };
  const grpc = { name: 'h2c', containerPort: KSERVE_PORTS.grpc, protocol: 'TCP' };
  if (options.protocol === 'http') return [http];
  if (options.protocol === 'grpc') return [grpc];
  return [http, grpc];
}

function protocolVersions(options: K8sOptions): string[] {
  if (options.protocol === 'http') return ['v1', 'v2'];
  if (options.protocol === 'grpc') return ['grpc-v2'];
  return ['v1', 'v2', 'grpc-v2'];
}

export function servingRuntime(options: K8sOptions): Manifest {
  const kind = options.clusterRuntime ? 'ClusterServingRuntime' : 'ServingRuntime';
  const standard = options.deploymentMode === 'standard';
  const onnx = options.autoSelectPriority === undefined
    ? { name: 'onnx', version: '1', autoSelect: false }
    : { name: 'onnx', version: '1', autoSelect: true, priority: options.autoSelectPriority };
  return {
    apiVersion: 'serving.kserve.io/v1alpha1',
    kind,
    metadata: metadata(options.name, options, options.clusterRuntime),
    spec: {
      annotations: {
        'prometheus.kserve.io/port': String(KSERVE_PORTS.metrics),
        'prometheus.kserve.io/path': '/metrics',
      },
      supportedModelFormats: [
        // Not auto-selected unless asked: KServe's own runtimes (Triton: onnx at priority 1) keep the onnx
        // InferenceServices of the namespace; Vireo's name it with `runtime:`.
        onnx,
        // Handler models (a model.mjs per version) are Vireo's own format.
        { name: 'vireo', version: '1', autoSelect: true, priority: 1 },
      ],
      protocolVersions: protocolVersions(options),
      multiModel: false,
      containers: [{
        name: 'kserve-container',
        image: options.image,
        args: vireoArgs(options, KSERVE_PORTS, options.protocol !== 'http'),
        ports: ports(options),
        resources: resources(options),
        ...(options.protocol === 'grpc' ? grpcProbes(KSERVE_PORTS.grpc) : probes(KSERVE_PORTS.http)),
        // Knative refuses lifecycle (fieldmask.go ContainerMask) and drains through its queue-proxy instead.
        ...(standard ? { lifecycle: lifecycle(options) } : {}),
        securityContext,
        volumeMounts: [tmpMount],
      }],
      volumes: [{ name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }],
    },
  };
}

/** True when the service must load every model it sees, so none mode (no control API) serves it. */
function loadsEverything(options: K8sOptions, model: Model): boolean {
  return model.callsOtherModels || options.repositoryModels.every((name) => name === model.name);
}

function modelContainer(options: K8sOptions, model: Model) {
  const everything = loadsEverything(options, model);
  const args = everything
    ? ['--model-control-mode=none']
    : ['--model-control-mode=explicit', `--load-model=${model.name}`];
  return {
    args,
    ...(everything ? {} : {
      env: [{ name: 'VIREO_CONTROL_TOKEN_FILE', value: `${CONTROL_TOKEN_DIR}/${CONTROL_TOKEN_KEY}` }],
      volumeMounts: [{ name: 'control-token', mountPath: CONTROL_TOKEN_DIR, readOnly: true }],
    }),
    // Wait for the modelcar's link before starting (see WAIT_FOR_MODELS); exec form, node only.
    ...(options.storage?.scheme === 'oci' ? { command: ['node', `--import=${WAIT_FOR_MODELS}`, '/opt/vireo/bin/vireo.js', 'serve'] } : {}),
  };
}

export function inferenceService(options: K8sOptions, model: Model): { service: Manifest; extra: Manifest[] } {
  const standard = options.deploymentMode === 'standard';
  const autoscaling = serviceAutoscaling(options, model, labels(options));
  const container = modelContainer(options, model);
  const timeoutSeconds = standard ? undefined : knativeTimeoutSeconds(options);
  const service = {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: {
      ...metadata(resourceName(model.name), options),
      annotations: {
        'serving.kserve.io/deploymentMode': MODE_ANNOTATION[options.deploymentMode],
        'serving.kserve.io/enable-prometheus-scraping': 'true',
        ...autoscaling.annotations,
      },
    },
    spec: {
      predictor: {
        ...autoscaling.predictor,
        // Knative refuses terminationGracePeriodSeconds (fieldmask.go PodSpecMask): there the revision
        // timeout is the grace period, raised only when the drain needs more than Knative's default.
        ...(standard ? { terminationGracePeriodSeconds: terminationGracePeriod(options) } : {}),
        ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
        ...(options.serviceAccount ? { serviceAccountName: options.serviceAccount } : {}),
        ...(container.volumeMounts ? { volumes: [{ name: 'control-token', secret: { secretName: options.controlTokenSecret, items: [{ key: CONTROL_TOKEN_KEY, path: CONTROL_TOKEN_KEY }] } }] } : {}),
        model: {
          modelFormat: { name: model.format },
          runtime: options.name,
          protocolVersion: options.protocol === 'grpc' ? 'grpc-v2' : 'v2',
          ...(options.storage ? { storageUri: options.storage.uri } : {}),
          ...container,
        },
      },
    },
  };
  return { service, extra: autoscaling.extra };
}

/** True when some service runs explicit mode and so needs the control token Secret. */
export function needsControlToken(options: K8sOptions): boolean {
  return options.models.some((model) => !loadsEverything(options, model));
}

export function kserveManifests(options: K8sOptions): Map<string, Manifest[]> {
  const files = new Map<string, Manifest[]>();
  files.set(options.clusterRuntime ? 'cluster-serving-runtime.yaml' : 'serving-runtime.yaml', [servingRuntime(options)]);
  for (const model of options.models) {
    const { service, extra } = inferenceService(options, model);
    files.set(`inferenceservice-${resourceName(model.name)}.yaml`, [service, ...extra]);
  }
  return files;
}
