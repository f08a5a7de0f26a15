/**
 * The execution pool with real worker threads and real onnxruntime: many models share a few
 * threads, a group's instances never share one, a heavy model moves to a thread of its own so a
 * light one is answered while it runs, and a call that overruns its bound on a shared thread
 * takes down only its own instance — the others reopen elsewhere and answer their calls.
 * Expected values come from the models' definitions (sums, differences) or from a plain
 * onnxruntime session in this test.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { ExecutionPool } from '../../src/backends/execution-pool.js';
import { HEAVY_EXECUTE_MS } from '../../src/backends/heavy-calls.js';
import { PooledInstance, type Placement } from '../../src/backends/pooled-instance.js';
import type { VireoError } from '../../src/core/errors.js';
import { processInflight } from '../../src/core/inflight-requests.js';
import type { Tensor } from '../../src/core/tensor.js';
import { simpleModel, slowModel } from '../../tools/modelgen/models.js';
import { until } from '../helpers/fake-instance.js';

const SLOW_N = 256;
let dir: string;
const paths = { simple: '', slow: '', slowLong: '' };



function open(pool: ExecutionPool, modelPath: string, extra: { key?: string; placement?: Placement; executeTimeoutMs?: number; onDeath?: (e: VireoError) => void; expectedHash?: string } = {}) {
  return PooledInstance.open(pool, {
    key: extra.key ?? modelPath,
    options: { modelPath, executionProviders: ['cpu'], interOpThreads: 1, spinWaitUs: 0 },
    dedicatedIntraOpThreads: 1,
    placement: extra.placement ?? 'auto',
    log: (level, message) => { if (process.env.DEBUG_POOL) console.log(level, message); },
    executeTimeoutMs: extra.executeTimeoutMs,
    onDeath: extra.onDeath,
    expectedHash: () => extra.expectedHash,
  });
}

const simpleInputs = (k: number): Tensor[] => [
  { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Int32Array.from({ length: 16 }, (_, i) => i + k) },
  { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Int32Array.from({ length: 16 }, () => k) },
];
async function checkSimple(instance: PooledInstance, k: number): Promise<void> {
  const [sum, difference] = await instance.execute(simpleInputs(k), ['OUTPUT0', 'OUTPUT1']);
  assert.deepEqual(Array.from(sum!.data as Int32Array), Array.from({ length: 16 }, (_, i) => i + 2 * k));
  assert.deepEqual(Array.from(difference!.data as Int32Array), Array.from({ length: 16 }, (_, i) => i));
}
const slowInputs = (v: number, rows = 1): Tensor[] => [{ name: 'INPUT', datatype: 'FP32', shape: [rows, SLOW_N], data: new Float32Array(rows * SLOW_N).fill(v) }];

/** Milliseconds one MatMul–Tanh round of slowModel(SLOW_N) takes on one thread here (the fastest of 5 calls). */
async function msPerRound(path: string): Promise<number> {
  const rounds = 16;
  await writeFile(path, slowModel(SLOW_N, rounds));
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  const feeds = { INPUT: new ort.Tensor('float32', new Float32Array(SLOW_N).fill(0.01), [1, SLOW_N]) };
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    await session.run(feeds);
    fastest = Math.min(fastest, performance.now() - start);
  }
  await session.release();
  return fastest / rounds;
}

describe('execution pool', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vireo-pool-'));
    paths.simple = join(dir, 'simple.onnx');
    paths.slow = join(dir, 'slow.onnx');
    paths.slowLong = join(dir, 'slow-long.onnx');
    await writeFile(paths.simple, simpleModel());
    // Sized to this machine's speed, so "heavy" and "overruns its bound" hold on a fast, quiet machine
    // as on a loaded one: a slow call well above HEAVY_EXECUTE_MS, a long one far beyond the 100 ms bound.
    const roundMs = await msPerRound(join(dir, 'calibrate.onnx'));
    await writeFile(paths.slow, slowModel(SLOW_N, Math.max(8, Math.ceil((4 * HEAVY_EXECUTE_MS) / roundMs))));
    await writeFile(paths.slowLong, slowModel(SLOW_N, Math.max(400, Math.ceil(1000 / roundMs))));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('an instance opened after its version loaded refuses a model file replaced since, and opens once the file is back', async () => {
    const pool = new ExecutionPool({ sharedWorkers: 1, spinWaitUs: 0 });
    const path = join(dir, 'replaced.onnx');
    await writeFile(path, simpleModel());
    const first = await open(pool, path);
    assert.equal(first.fileHash, createHash('sha256').update(simpleModel()).digest('hex'));
    await writeFile(path, slowModel(SLOW_N, 8));
    await assert.rejects(open(pool, path, { expectedHash: first.fileHash }), /model file changed .*since this version was loaded/);
    await writeFile(path, simpleModel());
    const second = await open(pool, path, { expectedHash: first.fileHash });
    await checkSimple(second, 3);
    await Promise.all([first.close(), second.close()]);
  });

  it('hosts many models on one thread until they contend for it, then on as many threads as it has', async () => {
    const pool = new ExecutionPool({ sharedWorkers: 2 });
    // Placement 'shared': on a loaded machine a call of `simple` may take over 2 ms, and a model proved heavy
    // would take a thread of its own, which is another rule (tested below).
    const instances = await Promise.all(Array.from({ length: 12 }, (_, i) => open(pool, paths.simple, { key: `model-${i}`, placement: 'shared' })));
    assert.equal(pool.threads, 1, 'models that are not called at once share one thread');
    // One call at a time, model after model: no call ever finds another running, so nothing spreads.
    for (let round = 0; round < 4; round++) {
      for (const [k, instance] of instances.entries()) await checkSimple(instance, k + round);
    }
    assert.equal(pool.threads, 1, 'calls one after another are no reason for a second thread');
    // Two models called at the same time, back to back: one of them moves to a second shared thread.
    const [a, b] = [instances[0]!, instances[1]!];
    for (let k = 0; k < 20_000 && a.worker === b.worker; k++) await Promise.all([checkSimple(a, k), checkSimple(b, k + 1)]);
    assert.notEqual(a.worker, b.worker, 'contending models spread to a second shared thread');
    assert.equal(pool.threads, 2);
    // All keep answering, wherever they run now.
    for (let k = 0; k < 40; k++) await Promise.all([checkSimple(a, k), checkSimple(b, k + 2), checkSimple(instances[2]!, k + 3)]);
    assert.equal(pool.threads, 2, 'never more shared threads than the pool has');
    await Promise.all(instances.map((instance, k) => checkSimple(instance, k)));
    await Promise.all(instances.map((i) => i.close()));
    assert.equal(pool.threads, 2, 'idle shared threads stay for the next models (unreferenced)');
    const next = await open(pool, paths.simple, { key: 'after' });
    assert.equal(pool.threads, 2, 'and are used again');
    await checkSimple(next, 3);
    await next.close();
  });

  it('spreads contending models once: on threads of their own they no longer contend, so no third thread starts', async () => {
    const pool = new ExecutionPool({ sharedWorkers: 3 });
    const [a, b] = await Promise.all(['one', 'two'].map((key) => open(pool, paths.simple, { key, placement: 'shared' })));
    assert.equal(pool.threads, 1);
    // Until the move is adopted (its new session opens and warms meanwhile, while calls go on).
    for (let k = 0; k < 20_000 && a!.worker === b!.worker; k++) await Promise.all([checkSimple(a!, k), checkSimple(b!, k + 1)]);
    assert.notEqual(a!.worker, b!.worker, 'the contending pair spread');
    assert.equal(pool.threads, 2);
    // Called at once as before, each now alone on its thread: a third thread would be a thread for nothing.
    for (let k = 0; k < 200; k++) await Promise.all([checkSimple(a!, k), checkSimple(b!, k + 1)]);
    assert.equal(pool.threads, 2, 'no further spread once the pair is apart');
    await Promise.all([a!.close(), b!.close()]);
  });

  it("keeps a group's instances on different threads, beyond the shared ones on threads of their own", async () => {
    const pool = new ExecutionPool({ sharedWorkers: 2 });
    const group = await Promise.all([0, 1, 2].map(() => open(pool, paths.simple)));
    assert.equal(pool.threads, 3);
    assert.deepEqual(group.map((i) => i.dedicated).sort(), [false, false, true]);
    await Promise.all(group.map((instance, k) => checkSimple(instance, k)));
    await Promise.all(group.map((i) => i.close()));
  });

  it('puts background instances on one more thread, apart from real-time ones, and ends it when the last closes', async () => {
    const pool = new ExecutionPool({ sharedWorkers: 1 });
    const realTime = await open(pool, paths.simple);
    assert.equal(pool.threads, 1);
    const background = await Promise.all([open(pool, paths.simple, { placement: 'background' }), open(pool, paths.slow, { placement: 'background' })]);
    assert.equal(pool.threads, 2, 'both background instances share the background thread');
    await Promise.all([checkSimple(realTime, 1), checkSimple(background[0]!, 2)]);
    // A background call counts as a request in flight while it runs (real-time threads then do not spin).
    const inflightBefore = processInflight.current;
    const running = background[1]!.execute(slowInputs(0.5), ['OUTPUT']);
    assert.equal(processInflight.current, inflightBefore + 1);
    const [out] = await running;
    assert.equal(processInflight.current, inflightBefore);
    const reference = await ort.InferenceSession.create(paths.slow, { intraOpNumThreads: 1 });
    const expected = await reference.run({ INPUT: new ort.Tensor('float32', new Float32Array(SLOW_N).fill(0.5), [1, SLOW_N]) });
    assert.deepEqual(Array.from(out!.data as Float32Array), Array.from(expected.OUTPUT!.data as Float32Array));
    await reference.release();
    await Promise.all(background.map((i) => i.close()));
    await until(() => pool.threads === 1);
    await checkSimple(realTime, 3);
    await realTime.close();
  });

  it('moves a heavy model to its own thread, after which a light model sharing its old thread answers while it runs', async () => {
    const pool = new ExecutionPool({ sharedWorkers: 1 });
    const slow = await open(pool, paths.slow);
    const simple = await open(pool, paths.simple);
    assert.equal(pool.threads, 1, 'both start on the one shared thread');
    // Heavy calls back to back until the instance has moved (it adopts the move between calls).
    for (let i = 0; i < 2000 && !slow.dedicated; i++) await slow.execute(slowInputs(0.01), []);
    assert.ok(slow.dedicated, 'the slow model got a thread of its own');
    assert.equal(pool.threads, 2);
    const order: string[] = [];
    // 64 rows: a call some hundred times longer than simple's, so the order does not depend on luck.
    const slowCall = slow.execute(slowInputs(0.02, 64), []).then(() => order.push('slow'));
    for (let k = 0; k < 3; k++) {
      await checkSimple(simple, k);
      order.push('simple');
    }
    await slowCall;
    assert.equal(order[0], 'simple', `simple waited for slow: ${order.join(',')}`);
    await Promise.all([slow.close(), simple.close()]);
    // Opened again (a reload, a load/unload cycle), the file that proved heavy starts on a thread of its
    // own; the light one starts shared as before.
    const [slowAgain, simpleAgain] = [await open(pool, paths.slow), await open(pool, paths.simple)];
    assert.ok(slowAgain.dedicated, 'the heavy file starts on a thread of its own');
    assert.ok(!simpleAgain.dedicated);
    await Promise.all([slowAgain.close(), simpleAgain.close()]);
  });

  it('a call that overruns its bound ends its shared thread; the instances beside it reopen and answer their calls', async () => {
    const reference = await ort.InferenceSession.create(paths.slow);
    const expected = (await reference.run({ INPUT: new ort.Tensor('float32', new Float32Array(SLOW_N).fill(0.03), [1, SLOW_N]) })).OUTPUT!.data as Float32Array;
    await reference.release();

    const pool = new ExecutionPool({ sharedWorkers: 1 });
    const deaths: VireoError[] = [];
    const stuck = await open(pool, paths.slowLong, { placement: 'shared', executeTimeoutMs: 100, onDeath: (e) => deaths.push(e) });
    const neighbour = await open(pool, paths.slow, { placement: 'shared' });
    const simple = await open(pool, paths.simple, { placement: 'shared' });
    assert.equal(pool.threads, 1);

    const overrun = stuck.execute(slowInputs(0.01), []);
    // Queued behind the overrunning call on the same thread when it is ended.
    const waiting = neighbour.execute(slowInputs(0.03), []);
    await assert.rejects(overrun, (e: VireoError) => e.code === 'VIREO_ERR_REQUEST_TIMEOUT');
    const [output] = await waiting;
    assert.deepEqual(Array.from(output!.data as Float32Array), Array.from(expected), 'the interrupted call ran again, with its inputs intact');
    await until(() => deaths.length === 1);
    assert.equal(deaths[0]!.code, 'VIREO_ERR_REQUEST_TIMEOUT');
    assert.equal(stuck.alive, false);
    assert.ok(neighbour.alive && simple.alive);
    await checkSimple(simple, 5);
    await Promise.all([stuck.close(), neighbour.close(), simple.close()]);
    assert.equal(pool.threads, 1, 'the given-up thread is forgotten; the one the neighbours moved to stays');
  });
});
