/**
 * `vireo k8s`: every generated manifest is validated — KServe objects against the KServe CRDs'
 * openAPIV3Schema (ajv; unknown fields count as errors, since the API server would silently prune them),
 * core objects with kubernetes-models' validators — across option sets; refused combinations say why.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Ajv, type ValidateFunction } from 'ajv';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { validateK8sOptions, type K8sInput } from '../../src/packaging/k8s/k8s-options.js';
import { kserveManifests } from '../../src/packaging/k8s/kserve-manifests.js';
import { kubernetesManifests } from '../../src/packaging/k8s/kubernetes-manifests.js';
import { K8S_BASE as base, K8S_MODELS as models } from '../helpers/k8s-input.js';

const root = join(import.meta.dirname, '..', '..');
/** KServe's CRDs, unchanged (Apache-2.0), kept with the tests so a clean clone validates against them. */
const specs = join(root, 'test', 'fixtures', 'kserve-crds');

/** Emulates structural pruning as an error: an object schema with listed properties accepts no others. */
function closed(schema: any): any {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: any = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, closed(s)])) : closed(v)]));
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true });
const validators = new Map<string, ValidateFunction>();
for (const file of ['serving.kserve.io_servingruntimes.yaml', 'serving.kserve.io_clusterservingruntimes.yaml', 'serving.kserve.io_inferenceservices.yaml']) {
  const crd = parseYaml(readFileSync(join(specs, file), 'utf8'));
  for (const version of crd.spec.versions) {
    const schema = closed(version.schema.openAPIV3Schema);
    schema.properties.metadata = { type: 'object' }; // checked by the API server, not the CRD schema
    validators.set(`${crd.spec.group}/${version.name}:${crd.spec.names.kind}`, ajv.compile(schema));
  }
}

function validateKServe(doc: any): void {
  const validate = validators.get(`${doc.apiVersion}:${doc.kind}`);
  assert.ok(validate, `no CRD for ${doc.apiVersion} ${doc.kind}`);
  assert.ok(validate(doc), `${doc.kind} ${doc.metadata?.name}: ${ajv.errorsText(validate.errors)}`);
}

const CORE: Record<string, new (data: any) => { validate(): void }> = {
  Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget, ServiceMonitor, ScaledObject,
};

function validateCore(doc: any): void {
  const Model = CORE[doc.kind];
  assert.ok(Model, `no validator for ${doc.kind}`);
  new Model(doc).validate();
}

const variants: [string, Partial<K8sInput>][] = [
  ['defaults, models in the image', {}],
  ['s3 storage, namespace, limits', { storageUri: 's3://models/repo', namespace: 'ml', resources: { cpu: '500m', memory: '1Gi', cpuLimit: '2', memoryLimit: '3Gi' } }],
  ['gs storage, rps on KEDA', { storageUri: 'gs://bucket/path/repo', scaleMetric: 'rps', scaleTarget: 40, autoscaler: 'keda', namespace: 'ml' }],
  ['pvc storage, cpu metric, cluster runtime', { storageUri: 'pvc://model-store/repos/prod', scaleMetric: 'cpu', scaleTarget: 60, clusterRuntime: true }],
  ['concurrency on KEDA, fixed containerConcurrency', { autoscaler: 'keda', scaleTarget: 4, containerConcurrency: 10, namespace: 'ml' }],
  ['Knative scale to zero, gRPC, oci modelcar', { target: 'kserve', minReplicas: 0, protocol: 'grpc', storageUri: 'oci://registry.example.com/models:1' }],
  ['standard mode, concurrency on an HPA, credentials', { deploymentMode: 'standard', storageUri: 's3://b/r', serviceAccount: 'reader', storageSecret: 's3-creds' }],
  ['standard mode, rps on KEDA, auto-selected', { deploymentMode: 'standard', scaleMetric: 'rps', autoscaler: 'keda', namespace: 'ml', autoSelectPriority: 2 }],
  ['standard mode, cpu', { deploymentMode: 'standard', scaleMetric: 'cpu', protocol: 'http' }],
];

describe('generated manifests validate', () => {
  for (const [label, change] of variants) {
    it(label, () => {
      const options = validateK8sOptions({ ...base, ...change });
      const kserve = [...kserveManifests(options).values()].flat() as any[];
      const core = options.target === 'kserve' ? [] : [...kubernetesManifests(options).values()].flat();
      // Beside the KServe objects: an HPA per service where KServe's own HPA could not read the metric.
      const kserveObjects = kserve.filter((d) => d.apiVersion.startsWith('serving.kserve.io/'));
      assert.equal(kserveObjects.length, 1 + models.length);
      for (const doc of kserveObjects) validateKServe(doc);
      for (const doc of kserve.filter((d) => !kserveObjects.includes(d))) validateCore(doc);
      if (options.target !== 'kserve') assert.equal(core.length, 5);
      for (const doc of core) validateCore(doc);
    });
  }

  it('the validators reject what a cluster would reject', () => {
    const options = validateK8sOptions(base);
    const isvc = structuredClone(kserveManifests(options).get('inferenceservice-simple.yaml')![0]) as any;
    isvc.spec.predictor.scaleMetric = 'latency';
    assert.throws(() => validateKServe(isvc), /scaleMetric.*allowed values/);
    const runtime = structuredClone(kserveManifests(options).get('serving-runtime.yaml')![0]) as any;
    runtime.spec.protocolVersion = ['v2']; // a typo the API server would drop silently
    assert.throws(() => validateKServe(runtime), /additional properties/);
    const deployment = structuredClone(kubernetesManifests(options).get('deployment.yaml')![0]) as any;
    deployment.spec.template.spec.terminationGracePeriodSeconds = '40s';
    assert.throws(() => validateCore(deployment), /terminationGracePeriodSeconds must be integer/);
  });
});

describe('what the manifests say', () => {
  const options = validateK8sOptions({ ...base, storageUri: 's3://models/repo', drainTimeout: 45, preStopDelay: 10 });
  const kserve = kserveManifests(options);
  const core = kubernetesManifests(options);

  it('a ServingRuntime for onnx and vireo formats, v1/v2 (Knative routes HTTP), probes on the health endpoints', () => {
    const runtime = kserve.get('serving-runtime.yaml')![0] as any;
    assert.deepEqual(runtime.spec.supportedModelFormats.map((f: any) => f.name), ['onnx', 'vireo']);
    assert.deepEqual(runtime.spec.protocolVersions, ['v1', 'v2']);
    const container = runtime.spec.containers[0];
    assert.equal(container.readinessProbe.httpGet.path, '/v2/health/ready');
    assert.equal(container.livenessProbe.httpGet.path, '/v2/health/live');
    assert.equal(container.readinessProbe.httpGet.port, container.ports[0].containerPort);
    assert.ok(container.args.includes('--model-repository=/mnt/models'));
    assert.ok(container.args.includes('--drain-timeout=45'));
  });

  // docs/lifecycle.md: after SIGTERM the drain lasts at most --drain-timeout, then a forced exit still waits up to
  // 10 s for batches running in onnxruntime. The kubelet's SIGKILL comes terminationGracePeriodSeconds after preStop
  // starts, so the grace period must cover preStop (10), the drain (45) and that wait (10).
  const GRACE_NEEDED = 10 + 45 + 10;

  it('one InferenceService per model, with storage, autoscaling and (Standard mode) a grace period covering preStop and the drain', () => {
    assert.deepEqual([...kserve.keys()].filter((f) => f.startsWith('inferenceservice-')).sort(),
      ['inferenceservice-ocr-det.yaml', 'inferenceservice-pipeline.yaml', 'inferenceservice-simple.yaml']);
    const isvc = kserve.get('inferenceservice-ocr-det.yaml')![0] as any;
    const predictor = isvc.spec.predictor;
    assert.equal(isvc.metadata.annotations['serving.kserve.io/deploymentMode'], 'Knative');
    assert.deepEqual([predictor.minReplicas, predictor.maxReplicas, predictor.scaleMetric, predictor.scaleTarget, predictor.containerConcurrency], [1, 3, 'concurrency', 8, 32]);
    assert.equal(predictor.model.storageUri, 's3://models/repo');
    assert.deepEqual(predictor.model.args, ['--model-control-mode=explicit', '--load-model=ocr_det']);
    assert.equal(predictor.terminationGracePeriodSeconds, undefined, 'Knative refuses it');
    const standard = kserveManifests(validateK8sOptions({ ...base, deploymentMode: 'standard', storageUri: 's3://models/repo', drainTimeout: 45, preStopDelay: 10 }));
    const grace = (standard.get('inferenceservice-ocr-det.yaml')![0] as any).spec.predictor.terminationGracePeriodSeconds;
    assert.ok(grace >= GRACE_NEEDED, String(grace));
    assert.ok(grace <= GRACE_NEEDED + 30, 'a margin, not an unbounded wait');
    const pipeline = (kserve.get('inferenceservice-pipeline.yaml')![0] as any).spec.predictor.model;
    assert.equal(pipeline.modelFormat.name, 'vireo');
    // A handler calls other models of the repository: its service loads them all (none mode: no control API).
    assert.deepEqual(pipeline.args, ['--model-control-mode=none']);
  });

  it('the Deployment downloads s3 storage in an init container and drains like the KServe pods', () => {
    const deployment = core.get('deployment.yaml')![0] as any;
    const pod = deployment.spec.template.spec;
    assert.deepEqual(pod.initContainers[0].args, ['s3://models/repo', '/mnt/models']);
    assert.equal(pod.containers[0].lifecycle.preStop.exec.command[2], 'setTimeout(() => {}, 10000)');
    assert.ok(pod.terminationGracePeriodSeconds >= GRACE_NEEDED, String(pod.terminationGracePeriodSeconds));
    const standard = kserveManifests(validateK8sOptions({ ...base, deploymentMode: 'standard', storageUri: 's3://models/repo', drainTimeout: 45, preStopDelay: 10 }));
    assert.equal(pod.terminationGracePeriodSeconds, (standard.get('inferenceservice-ocr-det.yaml')![0] as any).spec.predictor.terminationGracePeriodSeconds);
    assert.ok(pod.containers[0].args.includes('--drain-timeout=45'));
    const hpa = core.get('hpa.yaml')![0] as any;
    assert.deepEqual(hpa.spec.metrics[0].pods, { metric: { name: 'vireo_pending_requests' }, target: { type: 'AverageValue', averageValue: '8' } });
  });

  it('pvc storage mounts the claim read-only at /mnt/models with the path as subPath', () => {
    const pvc = validateK8sOptions({ ...base, storageUri: 'pvc://model-store/repos/prod' });
    const pod = (kubernetesManifests(pvc).get('deployment.yaml')![0] as any).spec.template.spec;
    assert.equal(pod.initContainers, undefined);
    assert.deepEqual(pod.volumes.find((v: any) => v.name === 'models'), { name: 'models', persistentVolumeClaim: { claimName: 'model-store', readOnly: true } });
    assert.deepEqual(pod.containers[0].volumeMounts.find((m: any) => m.name === 'models'), { name: 'models', mountPath: '/mnt/models', readOnly: true, subPath: 'repos/prod' });
  });
});

describe('refused option combinations', () => {
  const refused: [Partial<K8sInput>, RegExp][] = [
    [{ minReplicas: 4, maxReplicas: 2 }, /--min-replicas 4 is greater than --max-replicas 2/],
    [{ minReplicas: 0 }, /nothing would ever scale it back up; use --deployment-mode knative --target kserve/],
    [{ scaleMetric: 'rps' }, /--scale-metric rps with --autoscaler hpa/],
    [{ scaleMetric: 'cpu', scaleTarget: 150 }, /CPU utilisation target is a percentage/],
    [{ scaleTarget: 16, containerConcurrency: 8 }, /--container-concurrency 8 is below --scale-target 16/],
    [{ storageUri: 'http://example.com/models' }, /expected s3:\/\/<bucket>\/<path>, gs:\/\/<bucket>\/<path>, pvc:\/\/<claim>\/<path> or oci:\/\/<image>/],
    [{ storageUri: 'pvc://Bad_Claim/x' }, /not a valid PersistentVolumeClaim name/],
    [{ storageUri: 'pvc://claim/../etc' }, /may not contain \.\./],
    [{ name: 'Vireo' }, /--name Vireo: expected a DNS-1035 label/],
    [{ resources: { cpu: 'lots', memory: '2Gi' } }, /--cpu lots: expected a Kubernetes quantity/],
    [{ models: [{ name: 'a_b', versions: [1], format: 'onnx', callsOtherModels: false }, { name: 'a.b', versions: [1], format: 'onnx', callsOtherModels: false }] }, /models a_b and a\.b both become the Kubernetes name a-b/],
  ];
  for (const [change, message] of refused) {
    it(message.source.slice(0, 60), () => assert.throws(() => validateK8sOptions({ ...base, ...change }), message));
  }

  it('allows scale to zero and rps where the autoscaler supports them', () => {
    assert.equal(validateK8sOptions({ ...base, minReplicas: 0, target: 'kserve' }).minReplicas, 0);
    assert.equal(validateK8sOptions({ ...base, scaleMetric: 'rps', autoscaler: 'keda', namespace: 'ml' }).scaleTarget, 50);
  });
});

describe('vireo k8s', () => {
  const work = mkdtempSync(join(tmpdir(), 'vireo-k8s-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  const vireo = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/vireo.js'), 'k8s', '--model-repository', join(root, 'examples/models'), ...args], { encoding: 'utf8', cwd: root });

  it('writes files that parse back to valid manifests', () => {
    const out = join(work, 'out');
    const r = vireo('--image', 'vireo:1', '--storage-uri', 'gs://b/repo', '--autoscaler', 'keda', '--namespace', 'ml', '--output', out);
    assert.match(r.stderr, /kubectl create secret generic vireo-control-token -n ml --from-literal=token=/);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(join(out, 'kserve')).sort(), [...['ocr', 'ocr-cls', 'ocr-det', 'ocr-rec', 'ocr-stream', 'repeat-int32', 'silero-vad', 'simple', 'simple-sequence', 'tabular'].map((m) => `inferenceservice-${m}.yaml`), 'serving-runtime.yaml'].sort());
    assert.deepEqual(readdirSync(join(out, 'kubernetes')).sort(), ['deployment.yaml', 'keda-scaledobject.yaml', 'poddisruptionbudget.yaml', 'service.yaml', 'servicemonitor.yaml']);
    for (const folder of ['kserve', 'kubernetes']) {
      for (const file of readdirSync(join(out, folder))) {
        for (const doc of parseAllDocuments(readFileSync(join(out, folder, file), 'utf8'))) {
          if (folder === 'kserve') validateKServe(doc.toJS());
          else validateCore(doc.toJS());
        }
      }
    }
  });

  it('refuses a bad combination with a clear message and exit code 1', () => {
    const r = vireo('--image', 'vireo:1', '--min-replicas', '0', '--output', join(work, 'refused'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /vireo k8s: --min-replicas 0 for the plain Kubernetes Deployment: with no pod there is no vireo_pending_requests series/);
    const bad = vireo('--image', 'vireo:1', '--scale-metric', 'latency');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--scale-metric latency: expected one of concurrency, rps, cpu/);
  });
});

describe('generated arguments match vireo serve', () => {
  it('every argument the generated containers pass is accepted by vireo serve\'s own parser, with the meaning intended', async () => {
    const { serveCommand } = await import('../../src/cli/serve-command.js');
    const options = validateK8sOptions({ ...base, storageUri: 's3://b/r', drainTimeout: 45 });
    const runtime = kserveManifests(options).get('serving-runtime.yaml')![0] as any;
    const isvc = kserveManifests(options).get('inferenceservice-simple.yaml')![0] as any;
    const deployment = kubernetesManifests(options).get('deployment.yaml')![0] as any;
    // KServe appends the InferenceService's model args to the ServingRuntime container's args.
    for (const args of [[...runtime.spec.containers[0].args, ...isvc.spec.predictor.model.args], deployment.spec.template.spec.containers[0].args] as string[][]) {
      // parseOptions runs commander's parsing and validation (choices, argParsers) without starting a server.
      const command = serveCommand().exitOverride().configureOutput({ writeErr: () => {} });
      const parsed = command.parseOptions(args);
      assert.deepEqual(parsed, { operands: [], unknown: [] }, args.join(' '));
      const opts = command.opts();
      assert.equal(opts.modelRepository, '/mnt/models');
      assert.equal(opts.drainTimeout, 45);
      assert.equal(opts.logFormat, 'json');
    }
    const kserveOpts = serveCommand().exitOverride();
    kserveOpts.parseOptions([...runtime.spec.containers[0].args, ...isvc.spec.predictor.model.args]);
    assert.equal(kserveOpts.opts().modelControlMode, 'explicit');
    assert.deepEqual(kserveOpts.opts().loadModel, ['simple']);
    assert.equal(kserveOpts.opts().httpPort, runtime.spec.containers[0].ports[0].containerPort);
  });
});
