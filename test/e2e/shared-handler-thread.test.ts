/**
 * Handler models share one thread (docs/ARCHITECTURE.md, "Execution pool"): light handlers run side
 * by side on it, handler code that crashes, hangs or exits fails its own request while a neighbour's
 * request in flight on the same thread is answered (its instance reopens on a new thread and runs the
 * call again), and a handler whose calls prove heavy moves to a thread of its own.
 */
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * IN = [command, n]. OUT = [the thread's id, n]. Commands: 0 answers; 1 answers after n ms (awaited,
 * the thread stays free); 2 throws from a timer (outside the call's promise) and never answers; 3 loops
 * forever; 4 calls process.exit; 5 computes for n ms, then answers; 6 never answers (the thread stays free).
 */
const probe = `
import { threadId } from 'node:worker_threads';
export function execute(requests) {
  const [command, n] = requests[0].inputs.IN.data;
  const answer = () => requests.map(() => ({ outputs: { OUT: { data: [threadId, n] } } }));
  if (command === 1) return new Promise((resolve) => setTimeout(() => resolve(answer()), n));
  if (command === 2) { setTimeout(() => { throw new Error('boom from a timer'); }, 0); return new Promise(() => {}); }
  if (command === 3) for (;;) {}
  if (command === 4) process.exit(4);
  if (command === 6) return new Promise(() => {});
  if (command === 5) { const end = Date.now() + n; while (Date.now() < end) {} }
  return answer();
}
`;
const io = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [2] });
const handler = { config: { backend: 'typescript', max_batch_size: 0, input: [io('IN')], output: [io('OUT')], parameters: { execute_timeout_ms: 1500 } }, versions: { 1: probe }, filename: 'model.js' };

describe('the shared handler thread', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  const call = (model: string, command: number, n = 0) =>
    server.post(`/v2/models/${model}/infer`, { inputs: [{ name: 'IN', shape: [2], datatype: 'INT32', data: [command, n] }] });
  const threadOf = async (model: string): Promise<number> => {
    const answer = await call(model, 0, 7);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.outputs[0].data[1], 7);
    return answer.body.outputs[0].data[0];
  };

  before(async () => {
    const stateful = { ...handler, config: { ...handler.config, sequence_batching: { max_sequence_idle_microseconds: 5_000_000 } } };
    const repo = await makeRepository({ a: handler, b: handler, c: handler, heavy: handler, stateful });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  it('hosts light handlers together, off the main thread', async () => {
    const threads = await Promise.all(['a', 'b', 'c', 'heavy'].map(threadOf));
    assert.ok(threads[0]! > 0, 'not the main thread');
    assert.deepEqual(new Set(threads).size, 1, `one thread for all: ${threads}`);
  });

  it('gives a stateful (sequence-batched) handler a thread of its own', async () => {
    const answer = await server.post('/v2/models/stateful/infer', {
      parameters: { sequence_id: 7, sequence_start: true, sequence_end: true },
      inputs: [{ name: 'IN', shape: [2], datatype: 'INT32', data: [0, 7] }],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.notEqual(answer.body.outputs[0].data[0], await threadOf('a'));
  });

  const faults: [string, number, RegExp, number][] = [
    ['throws outside its call', 2, /crashed: boom from a timer/, 500],
    ['hangs past its time bound', 3, /did not finish the request within 1500 ms/, 504],
    ['calls process.exit', 4, /process\.exit\(4\)/, 500],
  ];
  for (const [what, command, message, status] of faults) {
    it(`fails only its own request when handler code ${what}; the neighbours' go on`, async () => {
      const before = await threadOf('a');
      // b's request is in flight on the same thread when a's code ends it.
      const neighbour = call('b', 1, 400);
      await sleep(100);
      const culprit = await call('a', command);
      assert.equal(culprit.status, status, JSON.stringify(culprit.body));
      assert.match(culprit.body.error, message);
      const answered = await neighbour;
      assert.equal(answered.status, 200, JSON.stringify(answered.body));
      assert.equal(answered.body.outputs[0].data[1], 400);
      // Everything serves again, together on the new thread.
      const after = await Promise.all(['a', 'b', 'c'].map(threadOf));
      assert.notEqual(after[0], before, 'the thread was replaced');
      assert.equal(new Set(after).size, 1, `one thread for all: ${after}`);
      assert.equal(answered.body.outputs[0].data[0], after[0], "the neighbour's call ran again on the new thread");
    });
  }

  it('fails only the call that never settles, without replacing the thread', async () => {
    const before = await threadOf('a');
    const neighbour = call('b', 1, 400);
    const stalled = await call('a', 6);
    assert.equal(stalled.status, 504, JSON.stringify(stalled.body));
    assert.match(stalled.body.error, /did not finish the request within 1500 ms/);
    assert.equal((await neighbour).status, 200);
    assert.equal((await neighbour).body.outputs[0].data[0], before, 'the neighbour ran once, on the same thread');
    assert.deepEqual(await Promise.all(['a', 'b', 'c'].map(threadOf)), [before, before, before]);
  });

  it('keeps a handler that awaits (a long timer) on the shared thread', async () => {
    const shared = await threadOf('a');
    for (let i = 0; i < 6; i++) assert.equal((await call('c', 1, 30)).body.outputs[0].data[0], shared);
  });

  it('moves a handler whose calls prove heavy to a thread of its own', async () => {
    const shared = await threadOf('a');
    // Its thread of its own starts in the background after a few calls and is used once ready.
    let own = shared;
    for (let i = 0; i < 40 && own === shared; i++) {
      const answer = await call('heavy', 5, 15);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      own = answer.body.outputs[0].data[0];
      if (own === shared) await sleep(50);
    }
    assert.notEqual(own, shared, 'heavy runs on a thread of its own');
    assert.equal(await threadOf('b'), shared, 'the light handlers stay on the shared thread');
    // Its own thread serves it from now on.
    assert.equal((await call('heavy', 5, 15)).body.outputs[0].data[0], own);
  });
});

// Without the bound an unload waits for the finalize() forever: the timeout turns that into a failure.
describe('a handler whose finalize() never ends', { timeout: 60_000 }, () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let root: string;
  const threadOf = async (model: string): Promise<number> => {
    const answer = await server.post(`/v2/models/${model}/infer`, { inputs: [{ name: 'IN', shape: [2], datatype: 'INT32', data: [0, 1] }] });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.outputs[0].data[0];
  };
  const withFinalize = (finalize: string) => ({ ...handler, versions: { 1: `${probe}\nexport function finalize() { ${finalize} }\n` } });

  before(async () => {
    const repo = await makeRepository({
      a: handler,
      b: handler,
      looping: withFinalize('for (;;) {}'),
      waiting: withFinalize('return new Promise(() => {});'),
    });
    cleanup = repo.cleanup;
    root = repo.root;
    server = await startTestServer(repo.root, { modelControlMode: 'explicit', loadModels: ['*'] });
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  it('serves a reloaded handler on the shared thread again', async () => {
    const shared = await threadOf('b');
    assert.equal(await threadOf('a'), shared);
    // A changed file: the load replaces the running version (the old instance serves until the new one is ready).
    await appendFile(join(root, 'a', '1', 'model.js'), '\n// changed\n');
    const load = await server.post('/v2/repository/models/a/load', {});
    assert.equal(load.status, 200, JSON.stringify(load.body));
    assert.equal(await threadOf('a'), shared);
  });

  it('is dropped after a bound when it awaits forever; the thread goes on', async () => {
    const shared = await threadOf('a');
    assert.equal(await threadOf('waiting'), shared);
    const unload = await server.post('/v2/repository/models/waiting/unload', {});
    assert.equal(unload.status, 200, JSON.stringify(unload.body));
    assert.equal(await threadOf('a'), shared);
  });

  it('is dropped after a bound when it blocks the thread; the others reopen on a new one', async () => {
    const shared = await threadOf('a');
    assert.equal(await threadOf('looping'), shared);
    const unload = await server.post('/v2/repository/models/looping/unload', {});
    assert.equal(unload.status, 200, JSON.stringify(unload.body));
    const now = await threadOf('a');
    assert.notEqual(now, shared, 'a new thread');
  });
});
