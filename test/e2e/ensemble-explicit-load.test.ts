/**
 * Explicit model control and ensembles, as Triton's model repository manager does it: loading an
 * ensemble (at start with --load-model, or through the repository API) first loads the models its steps
 * use, through nested ensembles; a step that cannot load fails the ensemble's load and is named; steps
 * that name each other do not hang the load. And `vireo batch`, which runs in explicit mode, loads only
 * its model (with an ensemble's steps) unless a handler is among them. Expected sums computed here
 * (simple: OUTPUT0 = INPUT0 + INPUT1).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBatch } from '../../src/app/run-batch.js';
import { simpleModel } from '../../tools/modelgen/models.js';
import { captureLogger } from '../helpers/logs.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const t = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [16] });
const ensemble = (steps: unknown[], input: object[], output: object[]) => ({
  config: { platform: 'ensemble', max_batch_size: 8, input, output, ensemble_scheduling: { step: steps } },
  versions: { 1: '' },
  filename: '.keep',
});
/** An ensemble over `model` with simple's signature: Z = X + Y. */
const over = (model: string, inputs = ['INPUT0', 'INPUT1'], output = 'OUTPUT0') =>
  ensemble([{ model_name: model, input_map: { [inputs[0]!]: 'X', [inputs[1]!]: 'Y' }, output_map: { [output]: 'Z' } }], [t('X'), t('Y')], [t('Z')]);
const handler = `export function execute(requests) {
  return requests.map((r) => ({ outputs: { OUTPUT0: { data: Array.from(r.inputs.INPUT0.data, (v, i) => v + r.inputs.INPUT1.data[i]) } } }));
}`;

let repo: { root: string; cleanup: () => Promise<void> };
before(async () => {
  repo = await makeRepository({
    simple: { versions: { 1: simpleModel() } },
    other: { versions: { 1: simpleModel() } },
    broken: { config: { max_batch_size: 8, input: [t('INPUT0'), t('INPUT1')], output: [t('OUTPUT0')] }, versions: { 1: 'not an onnx model' } },
    pipe: over('simple'),
    outer: over('pipe', ['X', 'Y'], 'Z'),
    uses_broken: over('broken'),
    loop_a: over('loop_b', ['X', 'Y'], 'Z'),
    loop_b: over('loop_a', ['X', 'Y'], 'Z'),
    adder: { config: { backend: 'typescript', max_batch_size: 8, input: [t('INPUT0'), t('INPUT1')], output: [t('OUTPUT0')] }, versions: { 1: handler }, filename: 'model.ts' },
    via_handler: over('adder'),
  });
});
after(() => repo.cleanup());

async function states(server: TestServer): Promise<Record<string, string>> {
  const r = await fetch(`${server.url}/v2/repository/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(r.status, 200);
  return Object.fromEntries(((await r.json()) as { name: string; state: string }[]).map((e) => [e.name, e.state]));
}

const control = (server: TestServer, model: string, action: 'load' | 'unload') =>
  fetch(`${server.url}/v2/repository/models/${model}/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });

const X = Array.from({ length: 16 }, (_, k) => k * 3 - 7);
const Y = Array.from({ length: 16 }, (_, k) => 100 - k);

async function inferZ(server: TestServer, model: string): Promise<number[]> {
  const r = await fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'X', shape: [1, 16], datatype: 'INT32', data: X }, { name: 'Y', shape: [1, 16], datatype: 'INT32', data: Y }] }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  return ((await r.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data;
}

describe('explicit mode: an ensemble loads with the models its steps use', () => {
  it('--load-model of a nested ensemble loads its steps through the inner ensemble, and nothing else', async () => {
    const server = await startTestServer(repo.root, { grpcPort: -1, modelControlMode: 'explicit', loadModels: ['outer'] });
    try {
      const s = await states(server);
      assert.deepEqual([s.outer, s.pipe, s.simple], ['READY', 'READY', 'READY']);
      assert.deepEqual([s.other, s.broken, s.uses_broken], ['UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE']);
      assert.deepEqual(await inferZ(server, 'outer'), X.map((x, k) => x + Y[k]!));
    } finally {
      await server.close();
    }
  });

  it('the load API loads an ensemble\'s steps; a step that cannot load fails the ensemble\'s load, named', async () => {
    const server = await startTestServer(repo.root, { grpcPort: -1, modelControlMode: 'explicit', loadModels: [] });
    try {
      const loaded = await control(server, 'pipe', 'load');
      assert.equal(loaded.status, 200, await loaded.clone().text());
      assert.deepEqual(await inferZ(server, 'pipe'), X.map((x, k) => x + Y[k]!));
      assert.equal((await states(server)).simple, 'READY');

      // The step's own answer (a model file onnxruntime cannot open: 503, as repository-api.test.ts has it).
      const failed = await control(server, 'uses_broken', 'load');
      assert.equal(failed.status, 503);
      assert.match(((await failed.json()) as { error: string }).error, /ensemble "uses_broken" uses model "broken", which failed to load/);
      assert.equal((await states(server)).uses_broken, 'UNAVAILABLE');
    } finally {
      await server.close();
    }
  });

  it('ensembles whose steps name each other fail to load instead of waiting on each other', async () => {
    const server = await startTestServer(repo.root, { grpcPort: -1, modelControlMode: 'explicit', loadModels: [] });
    try {
      const r = await control(server, 'loop_a', 'load');
      assert.equal(r.status, 400);
      const s = await states(server);
      assert.notEqual(s.loop_a, 'READY');
      assert.notEqual(s.loop_b, 'READY');
    } finally {
      await server.close();
    }
  });
});

describe('vireo batch: the models a job loads', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'vireo-batch-load-')); });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Runs a 3-row job over `model` (inputs `names`); the models whose load was logged, and the first output. */
  async function job(model: string, names: [string, string]): Promise<{ loaded: string[]; first: number[] }> {
    const input = join(dir, `${model}.jsonl`);
    const line = (i: number) => JSON.stringify({ inputs: names.map((name, n) => ({ name, datatype: 'INT32', shape: [1, 16], data: n === 0 ? X.map((x) => x + i) : Y })) });
    await writeFile(input, [0, 1, 2].map((i) => `${line(i)}\n`).join(''));
    const { logger, lines } = captureLogger();
    const output = join(dir, `out-${model}`);
    const summary = await runBatch({ modelRepository: repo.root, logger, model, inputs: [input], output, outputFormat: 'jsonl', instances: 1 });
    assert.equal(summary.rows, 3);
    assert.equal(summary.errors, 0);
    const part = (await readdir(join(output, 'parts'))).find((f) => f.endsWith('.jsonl') && !f.endsWith('.errors.jsonl'))!;
    const answer = JSON.parse((await readFile(join(output, 'parts', part), 'utf8')).split('\n')[0]!);
    const loaded = lines.filter((l) => l.msg === 'model loaded').map((l) => String(l.model));
    return { loaded: [...new Set(loaded)].sort(), first: answer.response.body.outputs[0].data };
  }

  it('an ONNX model alone: only it loads', async () => {
    const { loaded, first } = await job('simple', ['INPUT0', 'INPUT1']);
    assert.deepEqual(loaded, ['simple']);
    assert.deepEqual(first, X.map((x, k) => x + Y[k]!));
  });

  it('an ensemble: it and the models of its steps, through nested ensembles', async () => {
    const { loaded, first } = await job('outer', ['X', 'Y']);
    assert.deepEqual(loaded, ['outer', 'pipe', 'simple']);
    assert.deepEqual(first, X.map((x, k) => x + Y[k]!));
  });

  it('an ensemble with a handler step: every model of the repository, which the handler may call', async () => {
    const { loaded, first } = await job('via_handler', ['X', 'Y']);
    for (const model of ['adder', 'via_handler', 'simple', 'other', 'pipe', 'outer']) assert.ok(loaded.includes(model), `${model} loaded (got ${loaded.join(', ')})`);
    assert.deepEqual(first, X.map((x, k) => x + Y[k]!));
  });
});
