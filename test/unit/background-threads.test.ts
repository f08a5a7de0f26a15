/**
 * The threads of batch jobs' background instances (execution pool's background thread): nice 19 and
 * SCHED_IDLE, inherited by the onnxruntime threads a session starts there; a session runs on one
 * intra-op thread unless its model configures more. Read from /proc (test/helpers/thread-nice.ts).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { silentLogger } from '../../src/logging/logger.js';
import { ModelRepository } from '../../src/repository/model-repository.js';
import { ADD_CONFIG, addModel, waitFor } from '../helpers/lifecycle.js';
import { makeRepository } from '../helpers/repository.js';
import { SCHED_IDLE, threadSchedules } from '../helpers/thread-nice.js';

const background = () => threadSchedules().filter((t) => t.nice === 19);

let repo: { root: string; cleanup: () => Promise<void> };
let repository: ModelRepository;

before(async () => {
  repo = await makeRepository({
    single: { config: ADD_CONFIG, versions: { 1: addModel(1) } },
    // Two configured intra-op threads: onnxruntime starts one pool thread beside the calling thread.
    wide: { config: { ...ADD_CONFIG, parameters: { intra_op_threads: 2 } }, versions: { 1: addModel(2) } },
  });
  repository = new ModelRepository({ root: repo.root, logger: silentLogger(), controlMode: 'none' });
  await repository.loadAll();
});
after(async () => {
  await repository.close();
  await repo.cleanup();
});

async function backgroundCall(model: 'single' | 'wide', k: number): Promise<void> {
  const outputs = await repository.find(model, '1').scheduler!.enqueue(
    [{ name: 'INPUT', datatype: 'FP32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) }], ['OUTPUT'], 1, { background: true });
  assert.deepEqual(Array.from(outputs[0]!.data as Float32Array), [1, 2, 3, 4].map((v) => v + k));
}

it('runs a background session on one thread by default, and a configured count with its onnxruntime threads at the same priority', async () => {
  assert.equal(background().length, 0, 'no background thread before a job needs one');
  await backgroundCall('single', 1);
  // The background thread only: its session starts no onnxruntime pool thread.
  assert.equal(background().length, 1);
  await backgroundCall('wide', 2);
  // The same background thread, plus the pool thread of wide's session, created by it and so inheriting both.
  const threads = background();
  assert.equal(threads.length, 2);
  assert.ok(threads.every((t) => t.policy === SCHED_IDLE), JSON.stringify(threads));
  // Real-time threads keep the process's priority.
  assert.ok(threadSchedules().some((t) => t.nice === 0 && t.policy === 0));
  await repository.close();
  await waitFor('the background thread to end', () => background().length === 0);
});
