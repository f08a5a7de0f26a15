/**
 * The memory budget through the facade with real models and workers, measured by a meter the test
 * controls (each load "grows" memory by a fixed amount), so the eviction order is exact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/logging/logger.js';
import { ModelRepository } from '../../src/repository/model-repository.js';
import { InferenceServer } from '../../src/server/inference-server.js';
import { makeRepository } from '../helpers/repository.js';
import { threadNiceValues } from '../helpers/thread-nice.js';
import { ADD_CONFIG, addModel, waitFor } from '../helpers/lifecycle.js';
import { slowIdentityModel } from '../../tools/modelgen/models.js';

const FILE = addModel(1).byteLength;
const K = { a: 1, b: 2, c: 3 } as const;

function start(root: string, budget: number, step: number, controlMode: 'none' | 'explicit' = 'explicit') {
  let meter = 0;
  const repository = new ModelRepository({
    root, logger: silentLogger(), controlMode, memoryBudget: budget,
    residentBytes: () => (meter += step),
  });
  return { repository, server: new InferenceServer({ repository, logger: silentLogger() }), measurements: () => meter / step };
}

async function infer(server: InferenceServer, model: keyof typeof K) {
  const response = await server.infer({ model, inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) }] });
  assert.deepEqual(Array.from(response.outputs[0]!.data as Float32Array), [1, 2, 3, 4].map((v) => v + K[model]));
}

/** Threads at nice 19: the batch jobs' background thread and its onnxruntime threads. */
const niceThreads = () => threadNiceValues().filter((nice) => nice === 19).length;

describe('memory budget', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await makeRepository({
      ...Object.fromEntries(Object.entries(K).map(([name, k]) => [name, { config: ADD_CONFIG, versions: { 1: addModel(k) } }])),
      slow: { config: { max_batch_size: 4, parameters: { intra_op_threads: 1 } }, versions: { 1: slowIdentityModel(256) } },
    });
  });
  after(async () => { await repo.cleanup(); });

  it('loads on first request and unloads the least recently used idle model to make room', async () => {
    // Each load measures 1000 bytes; 2500 holds two models, never three.
    // none mode: every load is a full one, so a second load for the same first requests would show.
    const { repository, server, measurements } = start(repo.root, 2500, 1000, 'none');
    await repository.loadAll();
    try {
      const states = () => Object.fromEntries(repository.index().filter((e) => e.name !== 'slow').map((e) => [e.name, e.state]));
      assert.deepEqual(states(), { a: 'UNAVAILABLE', b: 'UNAVAILABLE', c: 'UNAVAILABLE' });
      assert.equal(repository.isReady(), true, 'models waiting for their first request do not make the server unready');
      await Promise.all([infer(server, 'a'), infer(server, 'a'), infer(server, 'a')]);
      assert.equal(measurements(), 2, 'three concurrent first requests share one load (measured before and after)');
      await infer(server, 'b');
      assert.deepEqual(states(), { a: 'READY', b: 'READY', c: 'UNAVAILABLE' });
      assert.deepEqual(repository.index().filter((e) => e.memoryBytes).map((e) => [e.name, e.memoryBytes]), [['a', 1000], ['b', 1000]]);
      await infer(server, 'a'); // a is now more recently used than b
      await infer(server, 'c');
      assert.deepEqual(states(), { a: 'READY', b: 'UNAVAILABLE', c: 'READY' });
      assert.match(repository.index().find((e) => e.name === 'b')!.reason!, /make room for "c"/);
      await infer(server, 'b'); // a was used before c: a goes
      assert.deepEqual(states(), { a: 'UNAVAILABLE', b: 'READY', c: 'READY' });
      await infer(server, 'c');
      await infer(server, 'a'); // b was used before c: b goes
      assert.deepEqual(states(), { a: 'READY', b: 'UNAVAILABLE', c: 'READY' });
    } finally {
      await repository.close();
    }
  });

  it('never evicts a busy model: the load fails with 503 until it is idle', async () => {
    // Each load measures 1 MB; 1.5 MB holds one model (the slow model's file is 256 KiB).
    const { repository, server } = start(repo.root, 1_500_000, 1_000_000);
    await repository.loadAll();
    try {
      await infer(server, 'a');
      const slowInput = { name: 'INPUT', datatype: 'FP32' as const, shape: [1, 256], data: new Float32Array(256).fill(2) };
      await server.infer({ model: 'slow', inputs: [slowInput] });
      assert.equal(repository.find('a', '1').state, 'UNAVAILABLE', 'a made room for slow');
      const running = server.infer({ model: 'slow', inputs: [{ ...slowInput, data: new Float32Array(256).fill(3) }] });
      await waitFor('a slow request in flight', () => (repository.find('slow').scheduler?.pending ?? 0) > 0);
      await assert.rejects(infer(server, 'a'), (error: any) => {
        assert.equal(error.code, 'VIREO_ERR_MEMORY_BUDGET_EXHAUSTED');
        assert.match(error.message, /every loaded model is busy; retry later/);
        return true;
      });
      assert.deepEqual(Array.from((await running).outputs[0]!.data as Float32Array), new Array(256).fill(3));
      // That failure is transient: the next request loads a, evicting the now idle slow model.
      await infer(server, 'a');
      assert.equal(repository.find('slow', '1').state, 'UNAVAILABLE');
    } finally {
      await repository.close();
    }
  });

  it("opens a batch job's background instance only while a second session fits; otherwise the job runs on the loaded one", async () => {
    // Each load measures 1000 bytes: 2500 has room for a second session of a, 1500 does not.
    for (const [budget, lane] of [[1500, false], [2500, true]] as const) {
      const { repository, server } = start(repo.root, budget, 1000);
      await repository.loadAll();
      try {
        await infer(server, 'a');
        const scheduler = repository.find('a', '1').scheduler!;
        const job = await Promise.all([5, 6, 7].map((v) => scheduler.enqueue(
          [{ name: 'INPUT', datatype: 'FP32', shape: [1, 4], data: new Float32Array(4).fill(v) }], ['OUTPUT'], 1, { background: true })));
        assert.deepEqual(job.map((outputs) => Array.from(outputs[0]!.data as Float32Array)), [5, 6, 7].map((v) => new Array(4).fill(v + K.a)));
        assert.equal(niceThreads() > 0, lane, `budget ${budget}: background thread ${lane ? 'expected' : 'not expected'}`);
      } finally {
        await repository.close();
      }
      await waitFor('the background thread to end', () => niceThreads() === 0);
    }
  });

  it('refuses a model that measures larger than the whole budget, and one whose files already are', async () => {
    const measured = start(repo.root, FILE + 10, 5000);
    await measured.repository.loadAll();
    try {
      await assert.rejects(infer(measured.server, 'a'), (error: any) => {
        assert.equal(error.code, 'VIREO_ERR_MODEL_TOO_LARGE');
        assert.match(error.message, new RegExp(`model "a" uses 5000 bytes, more than the whole memory budget of ${FILE + 10} bytes`));
        return true;
      });
      assert.equal(measured.repository.find('a', '1').instances, undefined, 'its workers were ended');
    } finally {
      await measured.repository.close();
    }
    const files = start(repo.root, FILE - 1, 1);
    await files.repository.loadAll();
    try {
      await assert.rejects(files.server.loadModel('a'), /model "a" needs at least \d+ bytes, more than the whole memory budget/);
    } finally {
      await files.repository.close();
    }
  });
});
