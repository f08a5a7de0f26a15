/**
 * `vireo k8s --batch-job`: the Indexed Job validates with kubernetes-models' batch/v1 Job schema for
 * PVC and object-storage inputs, carries the shard count, the per-index retries and the disruption
 * policy; refused options say why. The command writes it to <output>/batch/job.yaml.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Job } from 'kubernetes-models/batch/v1';
import { parse as parseYaml } from 'yaml';
import { batchJobManifest, BATCH_PERMANENT_EXIT_CODE, type BatchJobInput } from '../../src/packaging/k8s/batch-job-manifest.js';

const root = join(import.meta.dirname, '..', '..');
const base: BatchJobInput = {
  name: 'nightly-ocr', image: 'registry.example.com/vireo-models:1.0', model: 'ocr', knownModels: ['ocr', 'ocr_det', 'tabular'],
  inputUri: 'pvc://scans/2026-11-30', inputPaths: [], outputUri: 'pvc://results/ocr-2026-11-30',
  shards: 8, parallelism: 4, backoffLimitPerIndex: 2, batchArgs: ['--output-format=parquet'],
  resources: { cpu: '2', memory: '4Gi' },
};

const dir = mkdtempSync(join(tmpdir(), 'vireo-k8s-batch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('vireo k8s --batch-job', () => {
  it('an Indexed Job over PVCs that kubernetes-models validates', () => {
    const job = batchJobManifest(base) as any;
    new Job(job).validate();
    assert.equal(job.spec.completionMode, 'Indexed');
    assert.equal(job.spec.completions, 8);
    assert.equal(job.spec.parallelism, 4);
    assert.equal(job.spec.backoffLimitPerIndex, 2);
    assert.equal(job.spec.template.spec.restartPolicy, 'Never');
    const rules = job.spec.podFailurePolicy.rules;
    assert.deepEqual(rules[0], { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] });
    assert.deepEqual(rules[1].onExitCodes.values, [BATCH_PERMANENT_EXIT_CODE]);
    const container = job.spec.template.spec.containers[0];
    assert.deepEqual(container.command.slice(-1), ['batch']);
    assert.ok(container.args.includes('--model=ocr'));
    assert.ok(container.args.includes('--input=/mnt/input'));
    assert.ok(container.args.includes('--output=/mnt/output'));
    assert.ok(container.args.includes('--output-format=parquet'));
    assert.deepEqual(container.env, [{ name: 'VIREO_SHARD_COUNT', value: '8' }]);
    const volumes = Object.fromEntries(job.spec.template.spec.volumes.map((v: any) => [v.name, v]));
    assert.deepEqual(volumes.input.persistentVolumeClaim, { claimName: 'scans', readOnly: true });
    assert.deepEqual(volumes.output.persistentVolumeClaim, { claimName: 'results', readOnly: false });
    const mounts = Object.fromEntries(container.volumeMounts.map((m: any) => [m.name, m]));
    assert.equal(mounts.input.subPath, '2026-11-30');
    assert.equal(mounts.output.readOnly, false);
    assert.equal(job.spec.template.spec.initContainers, undefined);
  });

  it('object storage input and models come through the storage initializer', () => {
    const job = batchJobManifest({ ...base, inputUri: 's3://bucket/scans', modelUri: 'gs://models/repo', inputPaths: ['2026/**/*.png'] }) as any;
    new Job(job).validate();
    const inits = job.spec.template.spec.initContainers;
    assert.deepEqual(inits.map((c: any) => c.args), [['s3://bucket/scans', '/mnt/input'], ['gs://models/repo', '/mnt/models']]);
    const args = job.spec.template.spec.containers[0].args;
    assert.ok(args.includes('--model-repository=/mnt/models'));
    assert.ok(args.includes('--input=/mnt/input/2026/**/*.png'));
  });

  it('refuses what a cluster or the job would reject, saying why', () => {
    assert.throws(() => batchJobManifest({ ...base, outputUri: 's3://bucket/out' }), /must be a PersistentVolumeClaim.*atomically/);
    assert.throws(() => batchJobManifest({ ...base, model: 'nope' }), /not a model of the repository/);
    assert.throws(() => batchJobManifest({ ...base, inputPaths: ['../etc'] }), /inside the input/);
    assert.throws(() => batchJobManifest({ ...base, batchArgs: ['--shard=0/2'] }), /set by the Job itself/);
    assert.throws(() => batchJobManifest({ ...base, shards: 0 }), /--shards/);
  });

  it('the command writes batch/job.yaml', () => {
    const out = join(dir, 'k8s');
    const result = spawnSync(process.execPath, [join(root, 'bin', 'vireo.js'), 'k8s', '--batch-job', '--model-repository', join(root, 'examples', 'models'), '--image', 'vireo:1',
      '--batch-model', 'tabular', '--input-uri', 'pvc://data/in', '--output-uri', 'pvc://data/out', '--shards', '3', '--output', out], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const job = parseYaml(readFileSync(join(out, 'batch', 'job.yaml'), 'utf8'));
    new Job(job).validate();
    assert.equal(job.spec.completions, 3);
    assert.equal(job.spec.parallelism, 3);
    const missing = spawnSync(process.execPath, [join(root, 'bin', 'vireo.js'), 'k8s', '--batch-job', '--model-repository', join(root, 'examples', 'models'), '--image', 'vireo:1', '--output', out], { encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /needs --batch-model/);
  });

  it('an --output that cannot be written is one line, not a stack trace', () => {
    const file = join(dir, 'output-is-a-file');
    writeFileSync(file, 'x');
    const result = spawnSync(process.execPath, [join(root, 'bin', 'vireo.js'), 'k8s', '--batch-job', '--model-repository', join(root, 'examples', 'models'), '--image', 'vireo:1',
      '--batch-model', 'tabular', '--input-uri', 'pvc://data/in', '--output-uri', 'pvc://data/out', '--shards', '3', '--output', file], { encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /^vireo k8s: cannot write the manifests to .*output-is-a-file\/batch: ENOTDIR/);
  });
});
