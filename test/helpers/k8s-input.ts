/**
 * The `vireo k8s` input the manifest tests start from (k8s-manifests.test.ts validates what it makes,
 * kserve-admission.test.ts checks what KServe and Knative would make of it): three models — two ONNX, one
 * handler that calls other models — and the options a plain `vireo k8s` run resolves to.
 */
import type { K8sInput } from '../../src/packaging/k8s/k8s-options.js';

export const K8S_MODELS: K8sInput['models'] = [
  { name: 'ocr_det', versions: [1], format: 'onnx', callsOtherModels: false },
  { name: 'simple', versions: [1, 2], format: 'onnx', callsOtherModels: false },
  { name: 'pipeline', versions: [1], format: 'vireo', callsOtherModels: true },
];

export const K8S_BASE: K8sInput = {
  name: 'vireo', image: 'registry.example.com/vireo-models:1.0', models: K8S_MODELS, target: 'all', clusterRuntime: false,
  minReplicas: 1, maxReplicas: 3, scaleMetric: 'concurrency', autoscaler: 'hpa', prometheusAddress: 'http://prometheus:9090',
  drainTimeout: 30, preStopDelay: 5, resources: { cpu: '1', memory: '2Gi' },
};
