/**
 * Autoscaling of one InferenceService, per KServe deployment mode, so that the signal asked for reaches an
 * autoscaler that reads it:
 *
 * - knative: Knative's KPA on concurrency or rps. KServe turns the predictor's minReplicas, maxReplicas,
 *   scaleMetric and scaleTarget into `autoscaling.knative.dev/*` annotations of the revision
 *   (kserve pkg/controller/v1alpha1/utils/utils.go SetAutoScalingAnnotations); they are written out here too
 *   so the manifest says what the revision gets. Scale to zero works: the activator holds requests and wakes
 *   a replica. cpu needs Knative's HPA class (`hpa.autoscaling.knative.dev`; the KPA accepts only
 *   concurrency and rps, knative/serving pkg/apis/autoscaling/annotation_validation.go validateMetric).
 * - standard: KServe's HPA reconciler builds metrics for cpu and memory only
 *   (kserve .../reconcilers/hpa/hpa_reconciler.go getHPAMetrics); `scaleMetric: concurrency` would give an
 *   HPA with no metrics, which Kubernetes runs as 80 % CPU. So:
 *   - cpu: KServe's own scaleMetric/scaleTarget (autoscalerClass hpa);
 *   - concurrency or rps with --autoscaler keda: KServe's own autoScaling spec, an External Prometheus metric
 *     that KServe's KEDA reconciler turns into a ScaledObject trigger (.../reconcilers/keda/keda_reconciler.go);
 *   - concurrency with --autoscaler hpa: autoscalerClass external (KServe makes no HPA) and an
 *     autoscaling/v2 HPA written here on the Pods metric vireo_pending_requests{model=<model>} served by the
 *     Prometheus adapter, against KServe's Deployment `<name>-predictor`.
 * The per-model selector matters: a service that loads every model (a handler calling others) also reports
 * their queues, and each model's own InferenceService scales on its own model's queue only.
 */
import type { K8sOptions } from './k8s-options.js';
import { resourceName } from './k8s-options.js';

type Manifest = Record<string, unknown>;
type Model = K8sOptions['models'][number];

export const KNATIVE_KPA_CLASS = 'kpa.autoscaling.knative.dev';
export const KNATIVE_HPA_CLASS = 'hpa.autoscaling.knative.dev';

/** The Deployment KServe's Standard mode creates for an InferenceService's predictor. */
export function predictorDeploymentName(model: Model): string {
  return `${resourceName(model.name)}-predictor`;
}

/** PromQL label matchers of one model's series in one InferenceService's pods. */
export function modelSelector(options: K8sOptions, model: Model): string {
  return `namespace="${options.namespace}",pod=~"${predictorDeploymentName(model)}-.*",model="${model.name}"`;
}

export function prometheusQuery(options: K8sOptions, model: Model): string {
  const selector = modelSelector(options, model);
  return options.scaleMetric === 'rps'
    ? `sum(rate(vireo_inference_requests_total{${selector}}[1m]))`
    : `sum(vireo_pending_requests{${selector}})`;
}

export interface ServiceAutoscaling {
  annotations: Record<string, string>;
  /** Fields of spec.predictor. */
  predictor: Record<string, unknown>;
  /** Extra objects to apply beside the InferenceService (a standalone HPA). */
  extra: Manifest[];
}

function knative(options: K8sOptions): ServiceAutoscaling {
  const cpu = options.scaleMetric === 'cpu';
  const annotations: Record<string, string> = {
    'autoscaling.knative.dev/class': cpu ? KNATIVE_HPA_CLASS : KNATIVE_KPA_CLASS,
    'autoscaling.knative.dev/metric': options.scaleMetric,
    'autoscaling.knative.dev/target': String(options.scaleTarget),
    'autoscaling.knative.dev/min-scale': String(options.minReplicas),
    'autoscaling.knative.dev/max-scale': String(options.maxReplicas),
  };
  return {
    annotations,
    predictor: {
      minReplicas: options.minReplicas,
      maxReplicas: options.maxReplicas,
      scaleMetric: options.scaleMetric,
      scaleTarget: options.scaleTarget,
      containerConcurrency: options.containerConcurrency,
    },
    extra: [],
  };
}

function standalonePendingHpa(options: K8sOptions, model: Model, labels: Record<string, string>): Manifest {
  const name = predictorDeploymentName(model);
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name, ...(options.namespace ? { namespace: options.namespace } : {}), labels },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: options.minReplicas,
      maxReplicas: options.maxReplicas,
      metrics: [{
        type: 'Pods',
        pods: {
          metric: { name: 'vireo_pending_requests', selector: { matchLabels: { model: model.name } } },
          target: { type: 'AverageValue', averageValue: String(options.scaleTarget) },
        },
      }],
      behavior: {
        scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 4, periodSeconds: 15 }], selectPolicy: 'Max' },
        scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
      },
    },
  };
}

function standard(options: K8sOptions, model: Model, labels: Record<string, string>): ServiceAutoscaling {
  const bounds = { minReplicas: options.minReplicas, maxReplicas: options.maxReplicas };
  if (options.scaleMetric === 'cpu') {
    const keda = options.autoscaler === 'keda';
    return {
      annotations: { 'serving.kserve.io/autoscalerClass': keda ? 'keda' : 'hpa' },
      predictor: keda
        ? { ...bounds, autoScaling: { metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: options.scaleTarget } } }] } }
        : { ...bounds, scaleMetric: 'cpu', scaleTarget: options.scaleTarget },
      extra: [],
    };
  }
  if (options.autoscaler === 'keda') {
    return {
      annotations: { 'serving.kserve.io/autoscalerClass': 'keda' },
      predictor: {
        ...bounds,
        autoScaling: {
          metrics: [{
            type: 'External',
            external: {
              metric: { backend: 'prometheus', serverAddress: options.prometheusAddress, query: prometheusQuery(options, model) },
              target: { type: 'Value', value: String(options.scaleTarget) },
            },
          }],
        },
      },
      extra: [],
    };
  }
  // concurrency on an HPA (rps on an HPA is refused in k8s-options.ts)
  return { annotations: { 'serving.kserve.io/autoscalerClass': 'external' }, predictor: bounds, extra: [standalonePendingHpa(options, model, labels)] };
}

export function serviceAutoscaling(options: K8sOptions, model: Model, labels: Record<string, string>): ServiceAutoscaling {
  return options.deploymentMode === 'knative' ? knative(options) : standard(options, model, labels);
}
