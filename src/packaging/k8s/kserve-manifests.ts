/**
 * KServe manifests: a ServingRuntime (or ClusterServingRuntime) that runs Vireo, and one InferenceService
 * per model using it.
 *
 * Storage: with a storage URI, every InferenceService's storageUri is the repository root; KServe's storage
 * initializer downloads it into /mnt/models (a pvc:// URI is mounted there instead) and the service loads only
 * its own model (`--model-control-mode=explicit --load-model=<m>`: Triton's way of serving one model of a
 * shared repository), or every model when it is a handler or an ensemble that calls others. Without one, the models baked into the image by `vireo build` are served.
 * Ports follow KServe's runtimes: HTTP 8080 (the port Knative's queue-proxy forwards to), gRPC 9000; metrics
 * on 8002, announced with KServe's prometheus.kserve.io annotations.
 */
import type { K8sOptions } from './k8s-options.js';
import { resourceName } from './k8s-options.js';
import { lifecycle, probes, resources, securityContext, terminationGracePeriod, tmpMount, vireoArgs, type Ports } from './vireo-container.js';

export const KSERVE_PORTS: Ports = { http: 8080, grpc: 9000, metrics: 8002 };

type Manifest = Record<string, unknown>;

/** A cluster-scoped object (ClusterServingRuntime) takes no namespace. */
function metadata(name: string, options: K8sOptions, clusterScoped = false) {
  return {
    name,
    ...(options.namespace && !clusterScoped ? { namespace: options.namespace } : {}),
    labels: { 'app.kubernetes.io/name': 'vireo', 'app.kubernetes.io/instance': options.name, 'app.kubernetes.io/managed-by': 'vireo-k8s' },
  };
}

export function servingRuntime(options: K8sOptions): Manifest {
  const kind = options.clusterRuntime ? 'ClusterServingRuntime' : 'ServingRuntime';
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
        { name: 'onnx', version: '1', autoSelect: true, priority: 2 },
        // Handler models (a model.ts/js per version) are Vireo's own format.
        { name: 'vireo', version: '1', autoSelect: true, priority: 1 },
      ],
      protocolVersions: ['v1', 'v2', 'grpc-v2'],
      multiModel: false,
      containers: [{
        name: 'kserve-container',
        image: options.image,
        args: vireoArgs(options, KSERVE_PORTS),
        ports: [{ name: 'http1', containerPort: KSERVE_PORTS.http, protocol: 'TCP' }],
        resources: resources(options),
        ...probes(KSERVE_PORTS.http),
        lifecycle: lifecycle(options),
        securityContext,
        volumeMounts: [tmpMount],
      }],
      volumes: [{ name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }],
    },
  };
}

export function inferenceService(options: K8sOptions, model: K8sOptions['models'][number]): Manifest {
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: {
      ...metadata(resourceName(model.name), options),
      annotations: { 'serving.kserve.io/enable-prometheus-scraping': 'true' },
    },
    spec: {
      predictor: {
        minReplicas: options.minReplicas,
        maxReplicas: options.maxReplicas,
        scaleMetric: options.scaleMetric,
        scaleTarget: options.scaleTarget,
        containerConcurrency: options.containerConcurrency,
        terminationGracePeriodSeconds: terminationGracePeriod(options),
        model: {
          modelFormat: { name: model.format },
          runtime: options.name,
          protocolVersion: 'v2',
          ...(options.storage ? { storageUri: options.storage.uri } : {}),
          // A handler or an ensemble calls other models of the repository, so its service loads them all.
          args: ['--model-control-mode=explicit', `--load-model=${model.callsOtherModels ? '*' : model.name}`],
        },
      },
    },
  };
}

export function kserveManifests(options: K8sOptions): Map<string, Manifest[]> {
  const files = new Map<string, Manifest[]>();
  files.set(options.clusterRuntime ? 'cluster-serving-runtime.yaml' : 'serving-runtime.yaml', [servingRuntime(options)]);
  for (const model of options.models) files.set(`inferenceservice-${resourceName(model.name)}.yaml`, [inferenceService(options, model)]);
  return files;
}
