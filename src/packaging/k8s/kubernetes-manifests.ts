/**
 * Plain Kubernetes manifests for clusters without KServe: one Deployment serving the chosen models, a
 * Service, an autoscaler on Vireo's own queue metric, a PodDisruptionBudget and a ServiceMonitor.
 *
 * Autoscaling on `vireo_pending_requests` (requests queued or executing, per model and version):
 * - hpa: an autoscaling/v2 HorizontalPodAutoscaler with a Pods metric, served by the Prometheus adapter
 *   (its default rules expose a gauge carrying namespace and pod labels as a pod metric, summed per pod);
 *   the HPA keeps the average per pod at --scale-target. `--scale-metric cpu` uses CPU utilisation instead.
 * - keda: a KEDA ScaledObject with a Prometheus trigger: replicas = ceil(sum of pending requests / target)
 *   (concurrency) or ceil(requests per second / target) (rps); KEDA also scales to zero.
 * Storage: s3:// and gs:// are downloaded by KServe's storage-initializer image in an init container, with
 * the credentials of --storage-secret the way KServe's credential builder hands them over
 * (kserve pkg/credentials: s3 keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally AWS_ENDPOINT_URL,
 * S3_ENDPOINT, AWS_DEFAULT_REGION as environment; gs a key gcloud-application-credentials.json mounted under
 * /var/secrets/ and named by GOOGLE_APPLICATION_CREDENTIALS) or of the pod's --service-account (workload
 * identity); pvc:// is mounted read-only; without a URI the models baked into the image are served.
 * KEDA's Prometheus query names the namespace (--namespace is required for it, k8s-options.ts).
 */
import type { K8sOptions } from './k8s-options.js';
import { lifecycle, MOUNT_DIR, probes, resources, securityContext, terminationGracePeriod, tmpMount, tmpVolume, VIREO_PORTS, vireoArgs } from './vireo-container.js';

/** KServe's storage initializer: knows s3://, gs:// and their credentials conventions. */
export const STORAGE_INITIALIZER_IMAGE = 'kserve/storage-initializer:v0.16.0';
const GCS_CREDENTIALS_DIR = '/var/secrets';
const GCS_CREDENTIALS_FILE = 'gcloud-application-credentials.json';

type Manifest = Record<string, unknown>;

function labels(options: K8sOptions) {
  return { 'app.kubernetes.io/name': 'vireo', 'app.kubernetes.io/instance': options.name };
}

function metadata(options: K8sOptions, name = options.name) {
  return { name, ...(options.namespace ? { namespace: options.namespace } : {}), labels: { ...labels(options), 'app.kubernetes.io/managed-by': 'vireo-k8s' } };
}

function storage(options: K8sOptions) {
  const location = options.storage;
  if (!location) return { volumes: [], mounts: [], initContainers: [] };
  if (location.scheme === 'pvc') {
    return {
      volumes: [{ name: 'models', persistentVolumeClaim: { claimName: location.claim!, readOnly: true } }],
      mounts: [{ name: 'models', mountPath: MOUNT_DIR, readOnly: true, ...(location.path ? { subPath: location.path } : {}) }],
      initContainers: [],
    };
  }
  const secret = options.storageSecret;
  const gcs = secret !== undefined && location.scheme === 'gs';
  const credentials = secret === undefined ? {}
    : gcs
      ? { env: [{ name: 'GOOGLE_APPLICATION_CREDENTIALS', value: `${GCS_CREDENTIALS_DIR}/${GCS_CREDENTIALS_FILE}` }] }
      : { envFrom: [{ secretRef: { name: secret } }] };
  return {
    volumes: [{ name: 'models', emptyDir: {} }, ...(gcs ? [{ name: 'storage-credentials', secret: { secretName: secret } }] : [])],
    mounts: [{ name: 'models', mountPath: MOUNT_DIR, readOnly: true }],
    initContainers: [{
      name: 'storage-initializer',
      image: STORAGE_INITIALIZER_IMAGE,
      args: [location.uri, MOUNT_DIR],
      ...credentials,
      volumeMounts: [{ name: 'models', mountPath: MOUNT_DIR }, ...(gcs ? [{ name: 'storage-credentials', mountPath: GCS_CREDENTIALS_DIR, readOnly: true }] : [])],
      resources: { requests: { cpu: '100m', memory: '100Mi' }, limits: { memory: '1Gi' } },
    }],
  };
}

export function deployment(options: K8sOptions): Manifest {
  const store = storage(options);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(options),
    spec: {
      replicas: Math.max(options.minReplicas, 1),
      selector: { matchLabels: labels(options) },
      // Surge first: a rolling update never lowers serving capacity.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: labels(options), annotations: { 'vireo.io/models': options.models.map((m) => m.name).join(',') } },
        spec: {
          terminationGracePeriodSeconds: terminationGracePeriod(options),
          ...(options.serviceAccount ? { serviceAccountName: options.serviceAccount } : {}),
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 },
          ...(store.initContainers.length > 0 ? { initContainers: store.initContainers } : {}),
          containers: [{
            name: 'vireo',
            image: options.image,
            args: vireoArgs(options, VIREO_PORTS),
            ports: [
              { name: 'http', containerPort: VIREO_PORTS.http, protocol: 'TCP' },
              { name: 'grpc', containerPort: VIREO_PORTS.grpc, protocol: 'TCP' },
              { name: 'metrics', containerPort: VIREO_PORTS.metrics, protocol: 'TCP' },
            ],
            resources: resources(options),
            ...probes('http'),
            lifecycle: lifecycle(options),
            securityContext,
            volumeMounts: [tmpMount, ...store.mounts],
          }],
          volumes: [tmpVolume, ...store.volumes],
        },
      },
    },
  };
}

export function service(options: K8sOptions): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(options),
    spec: {
      selector: labels(options),
      ports: [
        { name: 'http', port: VIREO_PORTS.http, targetPort: 'http', protocol: 'TCP' },
        { name: 'grpc', port: VIREO_PORTS.grpc, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
        { name: 'metrics', port: VIREO_PORTS.metrics, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  };
}

export function horizontalPodAutoscaler(options: K8sOptions): Manifest {
  const metric = options.scaleMetric === 'cpu'
    ? { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: options.scaleTarget } } }
    : { type: 'Pods', pods: { metric: { name: 'vireo_pending_requests' }, target: { type: 'AverageValue', averageValue: String(options.scaleTarget) } } };
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: metadata(options),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: options.name },
      minReplicas: options.minReplicas,
      maxReplicas: options.maxReplicas,
      metrics: [metric],
      behavior: {
        // React to a spike at once; scale in only after five quiet minutes (each scale-in drains a replica).
        scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 4, periodSeconds: 15 }], selectPolicy: 'Max' },
        scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
      },
    },
  };
}

export function scaledObject(options: K8sOptions): Manifest {
  const selector = `namespace="${options.namespace}",service="${options.name}"`;
  const trigger = options.scaleMetric === 'cpu'
    ? { type: 'cpu', metricType: 'Utilization', metadata: { value: String(options.scaleTarget) } }
    : {
        type: 'prometheus',
        metadata: {
          serverAddress: options.prometheusAddress,
          query: options.scaleMetric === 'rps'
            ? `sum(rate(vireo_inference_requests_total{${selector}}[1m]))`
            : `sum(vireo_pending_requests{${selector}})`,
          threshold: String(options.scaleTarget),
        },
      };
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: metadata(options),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: options.name },
      minReplicaCount: options.minReplicas,
      maxReplicaCount: options.maxReplicas,
      pollingInterval: 15,
      cooldownPeriod: 300,
      triggers: [trigger],
    },
  };
}

export function podDisruptionBudget(options: K8sOptions): Manifest {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(options),
    // maxUnavailable rather than minAvailable: a single replica can still be evicted (drained) on a node drain.
    spec: { maxUnavailable: 1, selector: { matchLabels: labels(options) } },
  };
}

export function serviceMonitor(options: K8sOptions): Manifest {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: metadata(options),
    spec: {
      selector: { matchLabels: labels(options) },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: '15s' }],
    },
  };
}

export function kubernetesManifests(options: K8sOptions): Map<string, Manifest[]> {
  return new Map<string, Manifest[]>([
    ['deployment.yaml', [deployment(options)]],
    ['service.yaml', [service(options)]],
    options.autoscaler === 'keda' ? ['keda-scaledobject.yaml', [scaledObject(options)]] : ['hpa.yaml', [horizontalPodAutoscaler(options)]],
    ['poddisruptionbudget.yaml', [podDisruptionBudget(options)]],
    ['servicemonitor.yaml', [serviceMonitor(options)]],
  ]);
}
