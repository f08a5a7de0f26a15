/**
 * The five findings of issue 18 as tests over what KServe and Knative would make of `vireo k8s`'s manifests
 * (test/helpers/kserve-admission.ts encodes their rules from kserve/kserve and knative/serving):
 * 1. Knative mode is admitted (no lifecycle, no terminationGracePeriodSeconds) and still drains right;
 * 2. autoscaling reaches an autoscaler that reads the signal, in each mode, per model, in the right namespace,
 *    and scale to zero only where something wakes a replica;
 * 3. no control API is reachable through the platform without the token from a Secret;
 * 4. storage credentials, oci:// modelcars, the gRPC port, auto-select priority;
 * (5, the image, is in test/unit/containerfile.test.ts and test/e2e/container.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { validateK8sOptions, type K8sInput } from '../../src/packaging/k8s/k8s-options.js';
import { kserveManifests } from '../../src/packaging/k8s/kserve-manifests.js';
import { kubernetesManifests } from '../../src/packaging/k8s/kubernetes-manifests.js';
import { kserveHpaMetrics, kserveKedaTriggers, kserveMerge, knativeAdmission } from '../helpers/kserve-admission.js';
import { K8S_BASE as base, K8S_MODELS as models } from '../helpers/k8s-input.js';

/** Every (runtime, InferenceService) pair KServe would merge, with the objects written beside the service. */
function predictors(input: Partial<K8sInput>) {
  const options = validateK8sOptions({ ...base, ...input });
  const files = kserveManifests(options);
  const runtime = [...files.entries()].find(([f]) => f.includes('serving-runtime'))![1][0] as any;
  return [...files.entries()].filter(([f]) => f.startsWith('inferenceservice-')).map(([, docs]) => {
    const [isvc, ...extra] = docs as any[];
    return { isvc, extra, merged: kserveMerge(runtime, isvc), runtime, options };
  });
}

const knativeVariants: [string, Partial<K8sInput>][] = [
  ['defaults (Knative is KServe\'s chart default)', {}],
  ['s3 storage, service account, namespace', { storageUri: 's3://models/repo', serviceAccount: 'model-reader', namespace: 'ml' }],
  ['rps, scale to zero', { scaleMetric: 'rps', minReplicas: 0, target: 'kserve' }],
  ['cpu (Knative HPA class)', { scaleMetric: 'cpu' }],
  ['gRPC as the routed port', { protocol: 'grpc' }],
  ['oci:// modelcar', { storageUri: 'oci://registry.example.com/models/repo:1.0', target: 'kserve' }],
  ['a long drain', { drainTimeout: 400 }],
];

describe('finding 1: Knative mode is admitted and still drains', () => {
  for (const [label, change] of knativeVariants) {
    it(`Knative admits every revision: ${label}`, () => {
      for (const { merged, isvc } of predictors({ ...change, deploymentMode: 'knative' })) {
        assert.equal(merged.mode, 'Knative');
        assert.deepEqual(knativeAdmission(merged), [], `${isvc.metadata.name}`);
      }
    });
  }

  it('the encoded rules refuse what Knative refuses (lifecycle, grace period, a second port, init containers, a PVC)', () => {
    const { merged } = predictors({})[0]!;
    const refused = (change: (m: typeof merged) => void, why: RegExp) => {
      const copy = structuredClone(merged);
      change(copy);
      assert.match(knativeAdmission(copy).join('\n'), why);
    };
    refused((m) => { m.podSpec.containers[0].lifecycle = { preStop: { exec: { command: ['sleep', '5'] } } }; }, /containers\.kserve-container\.lifecycle/);
    refused((m) => { m.podSpec.terminationGracePeriodSeconds = 50; }, /spec\.terminationGracePeriodSeconds/);
    refused((m) => { m.podSpec.containers[0].ports.push({ name: 'h2c', containerPort: 9000 }); }, /Only a single port/);
    refused((m) => { m.podSpec.initContainers = [{ name: 'x', image: 'x' }]; }, /spec\.initContainers/);
    refused((m) => { m.podSpec.volumes.push({ name: 'pvc', persistentVolumeClaim: { claimName: 'c' } }); m.podSpec.containers[0].volumeMounts.push({ name: 'pvc', mountPath: '/p' }); }, /persistentVolumeClaim volume support is disabled/);
    refused((m) => { m.podSpec.securityContext = { fsGroup: 1 }; }, /spec\.securityContext/);
    refused((m) => { m.annotations['autoscaling.knative.dev/metric'] = 'cpu'; }, /autoscaling\.knative\.dev\/metric/);
  });

  it('Standard mode keeps the preStop wait and a grace period covering preStop, drain and the forced-exit wait', () => {
    for (const { merged } of predictors({ deploymentMode: 'standard', drainTimeout: 45, preStopDelay: 10 })) {
      assert.equal(merged.mode, 'Standard');
      const container = merged.podSpec.containers[0];
      assert.deepEqual(container.lifecycle.preStop.exec.command, ['node', '-e', 'setTimeout(() => {}, 10000)']);
      assert.ok(merged.podSpec.terminationGracePeriodSeconds >= 10 + 45 + 10, String(merged.podSpec.terminationGracePeriodSeconds));
      // What KServe makes of it is a Deployment's pod: the Kubernetes schema accepts it.
      new Deployment({ metadata: { name: 'x' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: merged.podSpec as any } } }).validate();
    }
  });

  it('Knative mode drains through the queue-proxy: the revision timeout (its grace period) covers Vireo\'s drain', () => {
    // Knative's own preStop waits for the queue-proxy to drain; then SIGTERM; the pod's grace period is the
    // revision timeout, 300 s unless set. A 400 s drain + 10 s forced-exit wait + margin needs it raised.
    for (const { merged } of predictors({ deploymentMode: 'knative' })) assert.equal(merged.predictor.timeoutSeconds, undefined);
    for (const { merged } of predictors({ deploymentMode: 'knative', drainTimeout: 400 })) assert.ok(merged.predictor.timeoutSeconds >= 410);
    assert.throws(() => validateK8sOptions({ ...base, drainTimeout: 590 }), /at most 600 s/);
  });
});

describe('finding 2: autoscaling that fires', () => {
  it('Knative: KPA on concurrency or rps through the autoscaling.knative.dev annotations; scale to zero allowed', () => {
    for (const metric of ['concurrency', 'rps'] as const) {
      for (const { merged } of predictors({ scaleMetric: metric, minReplicas: 0, target: 'kserve' })) {
        assert.equal(merged.annotations['autoscaling.knative.dev/class'], 'kpa.autoscaling.knative.dev');
        assert.equal(merged.annotations['autoscaling.knative.dev/metric'], metric);
        assert.equal(merged.annotations['autoscaling.knative.dev/min-scale'], '0');
      }
    }
    for (const { merged } of predictors({ scaleMetric: 'cpu' })) assert.equal(merged.annotations['autoscaling.knative.dev/class'], 'hpa.autoscaling.knative.dev');
  });

  it('Standard: every InferenceService on KServe\'s HPA gets a metric KServe builds, else its own HPA on its model\'s queue', () => {
    for (const [metric, autoscaler] of [['concurrency', 'hpa'], ['cpu', 'hpa'], ['concurrency', 'keda'], ['rps', 'keda'], ['cpu', 'keda']] as const) {
      for (const { isvc, extra } of predictors({ deploymentMode: 'standard', scaleMetric: metric, autoscaler, namespace: 'ml' })) {
        const klass = isvc.metadata.annotations['serving.kserve.io/autoscalerClass'] ?? 'hpa';
        const predictor = isvc.spec.predictor;
        const model = predictor.model.args.find((a: string) => a.startsWith('--load-model='))?.slice(13) ?? isvc.metadata.name;
        if (klass === 'hpa') {
          assert.deepEqual(kserveHpaMetrics(predictor).map((m) => m.resource.name), [metric], `${metric}/${autoscaler}`);
        } else if (klass === 'keda') {
          const [trigger] = kserveKedaTriggers(predictor);
          assert.ok(trigger, `${metric}/${autoscaler}: a KEDA trigger`);
          if (metric !== 'cpu') {
            assert.match(trigger.metadata.query, /namespace="ml"/);
            assert.match(trigger.metadata.query, new RegExp(`pod=~"${isvc.metadata.name}-predictor-\\.\\*"`));
            assert.match(trigger.metadata.query, metric === 'rps' ? /rate\(vireo_inference_requests_total/ : /vireo_pending_requests/);
          }
        } else {
          assert.equal(klass, 'external');
          const hpa = extra.find((d: any) => d.kind === 'HorizontalPodAutoscaler');
          assert.ok(hpa, 'an HPA beside the InferenceService');
          new HorizontalPodAutoscaler(hpa).validate();
          assert.equal(hpa.spec.scaleTargetRef.name, `${isvc.metadata.name}-predictor`);
          assert.equal(hpa.spec.metrics[0].pods.metric.name, 'vireo_pending_requests');
          if (!predictor.model.args.includes('--model-control-mode=none')) assert.deepEqual(hpa.spec.metrics[0].pods.metric.selector.matchLabels, { model });
        }
      }
    }
  });

  it('per-model signals: each InferenceService scales on its own model\'s series', () => {
    const [det, simple] = predictors({ deploymentMode: 'standard', autoscaler: 'keda', namespace: 'ml' });
    assert.match(kserveKedaTriggers(det!.isvc.spec.predictor)[0]!.metadata.query, /model="ocr_det"/);
    assert.match(kserveKedaTriggers(simple!.isvc.spec.predictor)[0]!.metadata.query, /model="simple"/);
  });

  it('a Prometheus query always names the namespace; without --namespace it is refused', () => {
    assert.throws(() => validateK8sOptions({ ...base, autoscaler: 'keda' }), /give --namespace/);
    const plain = kubernetesManifests(validateK8sOptions({ ...base, autoscaler: 'keda', namespace: 'ml' })).get('keda-scaledobject.yaml')![0] as any;
    assert.match(plain.spec.triggers[0].metadata.query, /namespace="ml"/);
  });

  it('scale to zero only where something can wake it', () => {
    assert.throws(() => validateK8sOptions({ ...base, minReplicas: 0, autoscaler: 'keda', namespace: 'ml' }), /nothing would ever scale it back up/);
    assert.throws(() => validateK8sOptions({ ...base, target: 'kserve', deploymentMode: 'standard', minReplicas: 0, autoscaler: 'keda', namespace: 'ml' }), /nothing would ever scale it back up/);
    assert.throws(() => validateK8sOptions({ ...base, target: 'kserve', minReplicas: 0, scaleMetric: 'cpu' }), /cannot scale to zero/);
    assert.equal(validateK8sOptions({ ...base, target: 'kserve', minReplicas: 0 }).minReplicas, 0);
  });
});

describe('finding 3: no control API through the platform without the token', () => {
  for (const mode of ['knative', 'standard'] as const) {
    it(`${mode}: explicit mode carries the token file from a Secret; otherwise none mode, which has no control API`, () => {
      const seen = new Set<string>();
      for (const { merged } of predictors({ deploymentMode: mode, storageUri: 's3://b/r' })) {
        const container = merged.podSpec.containers[0];
        const control = container.args.find((a: string) => a.startsWith('--model-control-mode='))?.slice(21) ?? 'none';
        seen.add(control);
        assert.ok(!container.args.some((a: string) => a.startsWith('--allow-remote-control')), 'never opens control to every peer');
        if (control === 'none') continue;
        const tokenFile = container.env.find((e: any) => e.name === 'VIREO_CONTROL_TOKEN_FILE')?.value;
        assert.ok(tokenFile, `${control} mode without VIREO_CONTROL_TOKEN_FILE: behind a proxy the loopback check lets every caller in`);
        const mount = container.volumeMounts.find((m: any) => tokenFile.startsWith(m.mountPath + '/'));
        assert.ok(mount, 'the token file lies in a mounted volume');
        const volume = merged.podSpec.volumes.find((v: any) => v.name === mount.name);
        assert.equal(volume.secret.secretName, 'vireo-control-token');
        assert.deepEqual(volume.secret.items, [{ key: 'token', path: tokenFile.slice(mount.mountPath.length + 1) }]);
      }
      assert.deepEqual([...seen].sort(), ['explicit', 'none']);
    });
  }

  it('a service that sees only its own model, or calls the others, runs none mode (no token needed)', () => {
    const one = predictors({ models: [models[1]!], repositoryModels: ['simple'] });
    assert.deepEqual(one[0]!.isvc.spec.predictor.model.args, ['--model-control-mode=none']);
    const pipeline = predictors({}).find((p) => p.isvc.metadata.name === 'pipeline')!;
    assert.deepEqual(pipeline.isvc.spec.predictor.model.args, ['--model-control-mode=none']);
  });
});

describe('finding 4: credentials, modelcars, the gRPC port, auto-select priority', () => {
  it('--service-account reaches the predictor pod (KServe reads storage credentials from its secrets) and the Deployment', () => {
    for (const { merged } of predictors({ storageUri: 's3://b/r', serviceAccount: 'model-reader' })) assert.equal(merged.podSpec.serviceAccountName, 'model-reader');
    const pod = (kubernetesManifests(validateK8sOptions({ ...base, storageUri: 's3://b/r', serviceAccount: 'model-reader' })).get('deployment.yaml')![0] as any).spec.template.spec;
    assert.equal(pod.serviceAccountName, 'model-reader');
  });

  it('--storage-secret gives the plain storage initializer s3 credentials as environment, gs credentials as a file', () => {
    const s3 = (kubernetesManifests(validateK8sOptions({ ...base, target: 'kubernetes', storageUri: 's3://b/r', storageSecret: 's3-creds' })).get('deployment.yaml')![0] as any).spec.template.spec;
    assert.deepEqual(s3.initContainers[0].envFrom, [{ secretRef: { name: 's3-creds' } }]);
    const gs = (kubernetesManifests(validateK8sOptions({ ...base, target: 'kubernetes', storageUri: 'gs://b/r', storageSecret: 'gcs-creds' })).get('deployment.yaml')![0] as any).spec.template.spec;
    assert.deepEqual(gs.initContainers[0].env, [{ name: 'GOOGLE_APPLICATION_CREDENTIALS', value: '/var/secrets/gcloud-application-credentials.json' }]);
    assert.deepEqual(gs.volumes.find((v: any) => v.name === 'storage-credentials'), { name: 'storage-credentials', secret: { secretName: 'gcs-creds' } });
    new Deployment(kubernetesManifests(validateK8sOptions({ ...base, target: 'kubernetes', storageUri: 'gs://b/r', storageSecret: 'gcs-creds' })).get('deployment.yaml')![0] as any).validate();
    assert.throws(() => validateK8sOptions({ ...base, storageUri: 's3://b/r', storageSecret: 's3-creds' }), /also give --service-account/);
  });

  it('oci:// is a KServe modelcar: accepted for KServe, and Vireo waits for the modelcar\'s /mnt/models before starting', () => {
    for (const { merged } of predictors({ storageUri: 'oci://registry.example.com/models/repo:1.0', target: 'kserve' })) {
      const container = merged.podSpec.containers[0];
      assert.equal(merged.annotations['internal.serving.kserve.io/storage-initializer-sourceuri'], 'oci://registry.example.com/models/repo:1.0');
      assert.equal(container.command[0], 'node');
      assert.match(container.command[1], /^--import=data:text\/javascript,.*existsSync\("\/mnt\/models"\)/);
      assert.deepEqual(container.command.slice(2), ['/opt/vireo/bin/vireo.js', 'serve']);
      assert.ok(container.args.includes('--model-repository=/mnt/models'));
    }
    assert.throws(() => validateK8sOptions({ ...base, storageUri: 'oci://registry.example.com/m:1' }), /use --target kserve/);
    assert.throws(() => validateK8sOptions({ ...base, target: 'kserve', storageUri: 'oci://Bad Ref' }), /expected oci:\/\//);
  });

  it('gRPC: declared as h2c where KServe routes it; Knative routes one port, so both is refused there', () => {
    const [standard] = predictors({ deploymentMode: 'standard' });
    const ports = standard!.merged.podSpec.containers[0].ports;
    assert.deepEqual(ports.map((p: any) => [p.name, p.containerPort]), [['http1', 8080], ['h2c', 9000]]);
    assert.ok(standard!.merged.podSpec.containers[0].args.includes('--grpc-port=9000'));
    assert.deepEqual(standard!.runtime.spec.protocolVersions, ['v1', 'v2', 'grpc-v2']);
    const [grpc] = predictors({ protocol: 'grpc' });
    assert.deepEqual(grpc!.merged.podSpec.containers[0].ports, [{ name: 'h2c', containerPort: 9000, protocol: 'TCP' }]);
    assert.equal(grpc!.merged.podSpec.containers[0].readinessProbe.grpc.port, 9000);
    assert.equal(grpc!.isvc.spec.predictor.model.protocolVersion, 'grpc-v2');
    const [http] = predictors({});
    assert.ok(http!.merged.podSpec.containers[0].args.includes('--grpc-port=-1'), 'no gRPC server where nothing routes to it');
    assert.throws(() => validateK8sOptions({ ...base, protocol: 'both' }), /routes exactly one port/);
  });

  it('the runtime is not auto-selected for onnx above KServe\'s own runtimes unless asked', () => {
    const { runtime } = predictors({})[0]!;
    const onnx = runtime.spec.supportedModelFormats.find((f: any) => f.name === 'onnx');
    assert.equal(onnx.autoSelect, false);
    assert.equal(onnx.priority, undefined);
    const { runtime: asked } = predictors({ autoSelectPriority: 2 })[0]!;
    assert.deepEqual(asked.spec.supportedModelFormats.find((f: any) => f.name === 'onnx'), { name: 'onnx', version: '1', autoSelect: true, priority: 2 });
  });
});
