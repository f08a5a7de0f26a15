/**
 * Custom TypeScript models (backend: typescript) over real HTTP: batching of requests into one
 * execute() call, BLS calls to an ONNX model, and isolation of failures (a throw, a hang, a dead
 * worker) from the rest of the server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { add, range16, simpleRequest, sub } from '../helpers/simple.js';

/** Doubles IN; BATCH tells how many requests shared the execute() call; 13 throws, 99 hangs, 66 exits. */
const doubler = `
let calls = 0;
export function initialize(ctx) { ctx.logger.info('doubler ready in ' + ctx.versionDir); }
export function execute(requests) {
  calls++;
  return requests.map((request) => {
    const input = request.inputs.IN.data;
    if (input[0] === 13) throw new Error('thirteen is unlucky');
    if (input[0] === 99) { for (;;) {} }
    if (input[0] === 66) process.exit(3);
    return { outputs: {
      OUT: { data: Array.from(input, (v) => v * 2) },
      BATCH: { data: [requests.length] },
      CALLS: { data: [calls] },
    } };
  });
}
`;

/** Adds its inputs by calling the ONNX model "simple" (BLS) and reports the sum as FP32. */
const blsSum = `
let ctx;
export const signature = {
  inputs: [{ name: 'A', datatype: 'INT32', dims: [16] }, { name: 'B', datatype: 'INT32', dims: [16] }],
  outputs: [{ name: 'SUM', datatype: 'FP32', dims: [16] }],
};
export function initialize(context) { ctx = context; }
export async function execute(requests) {
  return Promise.all(requests.map(async (request) => {
    const out = await ctx.infer('simple', {
      INPUT0: { datatype: 'INT32', shape: [1, 16], data: request.inputs.A.data },
      INPUT1: { datatype: 'INT32', shape: [1, 16], data: request.inputs.B.data },
    }, { outputs: ['OUTPUT0'] });
    return { outputs: { SUM: { data: Float32Array.from(out.OUTPUT0.data) } } };
  }));
}
`;

/** Never settles for a negative input: an asynchronous hang, bounded by execute_timeout_ms. */
const stalling = `
export function execute(requests) {
  if (requests[0].inputs.IN.data[0] < 0) return new Promise(() => {});
  return requests.map((r) => ({ outputs: { OUT: { data: r.inputs.IN.data } } }));
}
`;

const io = (name: string, dims: number[]) => ({ name, data_type: 'TYPE_INT32', dims });

describe('typescript handler models', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      simple: { versions: { 1: simpleModel() } },
      doubler: {
        config: {
          backend: 'typescript',
          max_batch_size: 8,
          input: [io('IN', [2])],
          output: [io('OUT', [2]), io('BATCH', [1]), io('CALLS', [1])],
          // Four requests make a batch at once; the long delay only matters if fewer arrive.
          dynamic_batching: { preferred_batch_size: [4], max_queue_delay_microseconds: 30_000_000 },
        },
        versions: { 1: doubler },
        filename: 'model.js',
      },
      bls_sum: { config: { backend: 'typescript', max_batch_size: 4 }, versions: { 1: blsSum }, filename: 'model.ts' },
      stalling: {
        config: { backend: 'typescript', max_batch_size: 0, input: [io('IN', [1])], output: [io('OUT', [1])], parameters: { execute_timeout_ms: 1500 } },
        versions: { 1: stalling },
        filename: 'model.ts',
      },
      no_execute: { config: { backend: 'typescript', input: [io('X', [1])], output: [io('Y', [1])] }, versions: { 1: 'export const x = 1;' }, filename: 'model.ts' },
      no_signature: { config: { backend: 'typescript' }, versions: { 1: 'export function execute(r) { return r; }' }, filename: 'model.ts' },
      broken_init: { config: { backend: 'typescript', input: [io('X', [1])], output: [io('Y', [1])] }, versions: { 1: 'export function initialize() { throw new Error("no weights here"); }\nexport function execute(r) { return r; }' }, filename: 'model.js' },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { strictReadiness: false });
  });

  after(async () => {
    await server.close();
    await cleanup();
  });

  const infer = (value: number, extra: Record<string, unknown> = {}) => server.post('/v2/models/doubler/infer', {
    inputs: [{ name: 'IN', datatype: 'INT32', shape: [1, 2], data: [value, value + 1] }],
    ...extra,
  });

  it('gives execute() a batch of requests and each request its own response', async () => {
    const answers = await Promise.all([1, 2, 3, 4].map((v) => infer(v)));
    answers.forEach((answer, i) => {
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const byName = Object.fromEntries(answer.body.outputs.map((o: { name: string; data: number[] }) => [o.name, o.data]));
      assert.deepEqual(byName.OUT, [2 * (i + 1), 2 * (i + 2)]);
      assert.deepEqual(byName.BATCH, [4]);
    });
    const stats = await server.get('/v2/models/doubler/stats');
    assert.equal(stats.body.model_stats[0].inference_count, 4);
    assert.equal(stats.body.model_stats[0].execution_count, 1);
  });

  it('reports the metadata of a handler model with its backend as platform', async () => {
    const meta = await server.get('/v2/models/doubler');
    assert.equal(meta.status, 200);
    assert.equal(meta.body.platform, 'typescript');
    assert.deepEqual(meta.body.inputs, [{ name: 'IN', datatype: 'INT32', shape: [-1, 2] }]);
  });

  it('calls another model from handler code (BLS) and completes its config from an exported signature', async () => {
    const a = range16(3);
    const b = range16(100);
    const answer = await server.post('/v2/models/bls_sum/infer', {
      inputs: [
        { name: 'A', datatype: 'INT32', shape: [1, 16], data: a },
        { name: 'B', datatype: 'INT32', shape: [1, 16], data: b },
      ],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.outputs[0], { name: 'SUM', datatype: 'FP32', shape: [1, 16], data: add(a, b) });
    const simpleStats = await server.get('/v2/models/simple/stats');
    assert.equal(simpleStats.body.model_stats[0].inference_count, 1);
  });

  it('fails only the batch whose code threw, with the message, and keeps serving', async () => {
    const batch = await Promise.all([13, 20, 21, 22].map((v) => infer(v)));
    for (const answer of batch) {
      assert.equal(answer.status, 500);
      assert.match(answer.body.error, /thirteen is unlucky/);
    }
    const after = await Promise.all([5, 6, 7, 8].map((v) => infer(v)));
    assert.deepEqual(after.map((a) => a.status), [200, 200, 200, 200]);
  });

  it('bounds a hanging handler by the request timeout and restarts its worker', async () => {
    const hung = await Promise.all([99, 30, 31, 32].map((v) => infer(v, { parameters: { timeout: 1_000_000 } })));
    for (const answer of hung) {
      assert.equal(answer.status, 504, JSON.stringify(answer.body));
      assert.match(answer.body.error, /did not finish/);
    }
    const after = await Promise.all([5, 6, 7, 8].map((v) => infer(v)));
    assert.deepEqual(after.map((a) => a.status), [200, 200, 200, 200]);
    // A fresh worker: the module's call counter started again.
    const calls = after[0]!.body.outputs.find((o: { name: string }) => o.name === 'CALLS').data[0];
    assert.equal(calls, 1);
  });

  it('fails the in-flight requests of a worker that dies with VIREO_ERR_WORKER_DIED and restarts it', async () => {
    const died = await Promise.all([66, 40, 41, 42].map((v) => infer(v)));
    for (const answer of died) {
      assert.equal(answer.status, 500);
      assert.match(answer.body.error, /worker exited/);
    }
    // The handler's thread was its own: the ONNX model in the execution pool never noticed.
    const a = range16(3);
    const b = range16(-5);
    const simple = await server.post('/v2/models/simple/infer', simpleRequest(a, b));
    assert.equal(simple.status, 200);
    assert.deepEqual(simple.body.outputs.map((o: { data: number[] }) => o.data), [add(a, b), sub(a, b)]);
    const after = await Promise.all([1, 2, 3, 4].map((v) => infer(v)));
    assert.deepEqual(after.map((a) => a.status), [200, 200, 200, 200]);
    assert.deepEqual(after[3]!.body.outputs[0].data, [8, 10]);
  });

  it('bounds a handler that never answers by execute_timeout_ms and serves again afterwards', async () => {
    const call = (value: number) => server.post('/v2/models/stalling/infer', { inputs: [{ name: 'IN', datatype: 'INT32', shape: [1], data: [value] }] });
    const stalled = await call(-1);
    assert.equal(stalled.status, 504, JSON.stringify(stalled.body));
    assert.match(stalled.body.error, /within 1500 ms/);
    const fine = await call(7);
    assert.equal(fine.status, 200, JSON.stringify(fine.body));
    assert.deepEqual(fine.body.outputs[0].data, [7]);
  });

  it('refuses to load handlers without execute, without a signature, or whose initialize throws', async () => {
    const reason = (name: string) => server.server.repositoryIndex().find((e) => e.name === name)?.reason;
    assert.match(reason('no_execute')!, /does not export an execute\(requests\) function/);
    assert.match(reason('no_signature')!, /declare input and output in the model configuration, or export a signature/);
    assert.match(reason('broken_init')!, /failed to load: no weights here/);
    const ready = await server.get('/v2/models/no_execute/ready');
    assert.equal(ready.status, 503);
  });
});
