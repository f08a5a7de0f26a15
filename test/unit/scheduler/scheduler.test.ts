/**
 * The scheduler against fake instances that record their batches: composition, ordering,
 * priorities, timeouts, queue limits, cancellation, draining. No wall-clock assertions: tests
 * hold instances busy and release them by hand, and check what ran, in which order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VireoError } from '../../../src/core/errors.js';
import type { Tensor } from '../../../src/core/tensor.js';
import { Scheduler, type DynamicBatchingConfig } from '../../../src/scheduler/scheduler.js';
import { FakeInstance, fakeInput, until } from '../../helpers/fake-instance.js';

const db = (overrides: Partial<DynamicBatchingConfig> = {}): DynamicBatchingConfig => ({
  preferred_batch_size: [], max_queue_delay_microseconds: 0, preserve_ordering: false,
  priority_levels: 0, default_priority_level: 0, ...overrides,
});
const policy = (overrides: Record<string, unknown> = {}) => ({
  timeout_action: 'REJECT' as const, default_timeout_microseconds: 0, allow_timeout_override: false, max_queue_size: 0, ...overrides,
});
const rowsOf = (outputs: Tensor[]) => Array.from(outputs[0]!.data as Float32Array);
const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'resolved';
  } catch (error) {
    return (error as VireoError).code;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Scheduler', () => {
  it('batches requests that queued while the instance was busy, and gives each its own rows', async () => {
    const instance = new FakeInstance(true);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 8, dynamicBatching: db() });
    const first = s.enqueue(fakeInput(100), [], 1);
    await until(() => instance.waiting === 1);
    const rest = [1, 2, 3].map((tag) => s.enqueue(fakeInput(tag * 10, tag), [], tag));
    instance.release();
    await until(() => instance.waiting === 1);
    assert.deepEqual(instance.batches.map((b) => b.tags), [[100], [10, 20, 21, 30, 31, 32]]);
    assert.deepEqual(instance.batches[1]!.shape, [6, 2]);
    instance.release();
    assert.deepEqual(rowsOf(await first), [200, 200]);
    const results = await Promise.all(rest);
    assert.deepEqual(results.map(rowsOf), [[20, 20], [40, 40, 42, 42], [60, 60, 62, 62, 64, 64]]);
    assert.deepEqual(results.map((r) => r[0]!.shape), [[1, 2], [2, 2], [3, 2]]);
  });

  it('never exceeds max_batch_size and never mixes shapes', async () => {
    const instance = new FakeInstance(true);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 4, dynamicBatching: db() });
    const all = [s.enqueue(fakeInput(0), [], 1)];
    await until(() => instance.waiting === 1);
    for (let i = 1; i <= 6; i++) all.push(s.enqueue(fakeInput(i), [], 1));
    all.push(s.enqueue(fakeInput(7, 1, 3), [], 1));
    all.push(s.enqueue(fakeInput(8), [], 1));
    while (instance.batches.length < 5 || instance.waiting > 0) {
      await until(() => instance.waiting === 1);
      instance.release();
      await sleep(1);
    }
    await Promise.all(all);
    assert.deepEqual(instance.batches.map((b) => b.tags), [[0], [1, 2, 3, 4], [5, 6], [7], [8]]);
  });

  it('without dynamic batching runs requests one by one in arrival order', async () => {
    const instance = new FakeInstance(false);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 8 });
    await Promise.all([1, 2, 3, 4].map((t) => s.enqueue(fakeInput(t), [], 1)));
    assert.deepEqual(instance.batches.map((b) => b.tags), [[1], [2], [3], [4]]);
  });

  it('holds a batch for max_queue_delay so later requests join it', async () => {
    const instance = new FakeInstance(false);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 8, dynamicBatching: db({ max_queue_delay_microseconds: 200_000 }) });
    const a = s.enqueue(fakeInput(1), [], 1);
    await sleep(5);
    const b = s.enqueue(fakeInput(2), [], 1);
    await Promise.all([a, b]);
    assert.deepEqual(instance.batches.map((x) => x.tags), [[1, 2]]);
  });

  it('sends a preferred batch size at once without waiting for the delay', async () => {
    const instance = new FakeInstance(false);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 8, dynamicBatching: db({ preferred_batch_size: [2], max_queue_delay_microseconds: 60_000_000 }) });
    await Promise.all([s.enqueue(fakeInput(1), [], 1), s.enqueue(fakeInput(2), [], 1)]);
    assert.deepEqual(instance.batches.map((x) => x.tags), [[1, 2]]);
    const lone = s.enqueue(fakeInput(3), [], 1);
    await sleep(20);
    assert.equal(instance.batches.length, 1, 'a lone request below the preferred size waits for the delay');
    await s.close();
    assert.deepEqual(rowsOf(await lone), [6, 6], 'close() flushes it');
  });

  it('runs higher priority levels first, FIFO within a level; unknown levels use the default', async () => {
    const instance = new FakeInstance(true);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 1, dynamicBatching: db({ priority_levels: 3, default_priority_level: 2 }) });
    const all = [s.enqueue(fakeInput(0), [], 1, { priority: 3 })];
    await until(() => instance.waiting === 1);
    all.push(s.enqueue(fakeInput(31), [], 1, { priority: 3 }));
    all.push(s.enqueue(fakeInput(21), [], 1));
    all.push(s.enqueue(fakeInput(32), [], 1, { priority: 3 }));
    all.push(s.enqueue(fakeInput(11), [], 1, { priority: 1 }));
    all.push(s.enqueue(fakeInput(22), [], 1, { priority: 99 }));
    all.push(s.enqueue(fakeInput(12), [], 1, { priority: 1 }));
    for (let i = 0; i < 7; i++) {
      await until(() => instance.waiting === 1);
      instance.release();
    }
    await Promise.all(all);
    assert.deepEqual(instance.batches.map((b) => b.tags[0]), [0, 11, 12, 21, 22, 31, 32]);
  });

  it('runs background (batch-job) work behind every priority level, whatever priority it names', async () => {
    for (const dynamicBatching of [undefined, db({ priority_levels: 2, default_priority_level: 2 })]) {
      const instance = new FakeInstance(true);
      const s = new Scheduler({ instances: [instance], maxBatchSize: 1, dynamicBatching });
      const all = [s.enqueue(fakeInput(0), [], 1)];
      await until(() => instance.waiting === 1);
      all.push(s.enqueue(fakeInput(91), [], 1, { background: true, priority: 1 }));
      all.push(s.enqueue(fakeInput(21), [], 1));
      all.push(s.enqueue(fakeInput(92), [], 1, { background: true }));
      all.push(s.enqueue(fakeInput(22), [], 1, { priority: 2 }));
      for (let i = 0; i < 5; i++) {
        await until(() => instance.waiting === 1);
        instance.release();
      }
      await Promise.all(all);
      assert.deepEqual(instance.batches.map((b) => b.tags[0]), [0, 21, 22, 91, 92]);
    }
  });

  it('rejects a request whose queue timeout passes before it runs; it never executes', async () => {
    const instance = new FakeInstance(true);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 4, dynamicBatching: db() });
    const busy = s.enqueue(fakeInput(0), [], 1);
    await until(() => instance.waiting === 1);
    const late = s.enqueue(fakeInput(1), [], 1, { timeoutUs: 1000 });
    const patient = s.enqueue(fakeInput(2), [], 1);
    assert.equal(await codeOf(late), 'VIREO_ERR_REQUEST_TIMEOUT');
    instance.release();
    await until(() => instance.waiting === 1);
    instance.release();
    await Promise.all([busy, patient]);
    assert.deepEqual(instance.batches.map((b) => b.tags), [[0], [2]]);
  });

  it('a queue policy decides whether the request timeout applies (allow_timeout_override)', async () => {
    const instance = new FakeInstance(true);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 1, dynamicBatching: db({
      priority_levels: 2, default_priority_level: 1,
      priority_queue_policy: { 1: policy(), 2: policy({ allow_timeout_override: true }) },
    }) });
    const busy = s.enqueue(fakeInput(0), [], 1);
    await until(() => instance.waiting === 1);
    const ignored = s.enqueue(fakeInput(1), [], 1, { timeoutUs: 1000, priority: 1 });
    const honoured = s.enqueue(fakeInput(2), [], 1, { timeoutUs: 1000, priority: 2 });
    assert.equal(await codeOf(honoured), 'VIREO_ERR_REQUEST_TIMEOUT');
    instance.release();
    await until(() => instance.waiting === 1);
    instance.release();
    await Promise.all([busy, ignored]);
    assert.deepEqual(instance.batches.map((b) => b.tags[0]), [0, 1]);
  });

  it('DELAY moves an expired request behind its level instead of failing it', async () => {
    const instance = new FakeInstance(true);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 1, dynamicBatching: db({
      priority_levels: 2, default_priority_level: 1,
      priority_queue_policy: { 1: policy({ timeout_action: 'DELAY', default_timeout_microseconds: 200_000 }) },
    }) });
    const all = [s.enqueue(fakeInput(0), [], 1, { priority: 2 })];
    await until(() => instance.waiting === 1);
    all.push(s.enqueue(fakeInput(1), [], 1));
    all.push(s.enqueue(fakeInput(9), [], 1, { priority: 2 }));
    await sleep(300); // request 1 expires (200 ms) and is delayed
    all.push(s.enqueue(fakeInput(2), [], 1));
    // Released well before request 2 could expire in its turn (200 ms), even on a loaded machine.
    for (let i = 0; i < 4; i++) {
      await until(() => instance.waiting === 1);
      instance.release();
    }
    await Promise.all(all);
    assert.deepEqual(instance.batches.map((b) => b.tags[0]), [0, 2, 1, 9]);
  });

  it('rejects at once beyond max_queue_size with a message that says the queue is full', async () => {
    const instance = new FakeInstance(true);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 1, dynamicBatching: db({ default_queue_policy: policy({ max_queue_size: 2 }) }) });
    const running = s.enqueue(fakeInput(0), [], 1);
    await until(() => instance.waiting === 1);
    const queued = [s.enqueue(fakeInput(1), [], 1), s.enqueue(fakeInput(2), [], 1)];
    await assert.rejects(s.enqueue(fakeInput(3), [], 1), (e: VireoError) => e.code === 'VIREO_ERR_QUEUE_FULL' && /queue is full/.test(e.message));
    for (let i = 0; i < 3; i++) {
      await until(() => instance.waiting === 1);
      instance.release();
    }
    await Promise.all([running, ...queued]);
    assert.deepEqual(instance.batches.map((b) => b.tags[0]), [0, 1, 2]);
  });

  it('drops a request whose client went away while it was queued', async () => {
    const instance = new FakeInstance(true);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 4, dynamicBatching: db() });
    const running = s.enqueue(fakeInput(0), [], 1);
    await until(() => instance.waiting === 1);
    const controller = new AbortController();
    const gone = s.enqueue(fakeInput(1), [], 1, { signal: controller.signal });
    const stays = s.enqueue(fakeInput(2), [], 1);
    assert.equal(s.pending, 3);
    controller.abort();
    assert.equal(await codeOf(gone), 'VIREO_ERR_REQUEST_CANCELLED');
    assert.equal(s.pending, 2);
    instance.release();
    await until(() => instance.waiting === 1);
    instance.release();
    await Promise.all([running, stays]);
    assert.deepEqual(instance.batches.map((b) => b.tags), [[0], [2]]);
    const aborted = new AbortController();
    aborted.abort();
    assert.equal(await codeOf(s.enqueue(fakeInput(3), [], 1, { signal: aborted.signal })), 'VIREO_ERR_REQUEST_CANCELLED');
  });

  it('close() refuses new requests and resolves only after every queued and running one finished', async () => {
    const instance = new FakeInstance(true);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 2, dynamicBatching: db() });
    const all = [0, 1, 2, 3].map((t) => s.enqueue(fakeInput(t), [], 1));
    await until(() => instance.waiting === 1);
    let closed = false;
    const closing = s.close().then(() => { closed = true; });
    assert.equal(await codeOf(s.enqueue(fakeInput(9), [], 1)), 'VIREO_ERR_MODEL_NOT_READY');
    for (let i = 0; i < 3; i++) {
      await until(() => instance.waiting === 1);
      assert.equal(closed, false);
      instance.release();
    }
    await closing;
    assert.equal(s.pending, 0);
    assert.deepEqual((await Promise.all(all)).map((o) => rowsOf(o)[0]), [0, 2, 4, 6]);
    assert.deepEqual(instance.batches.map((b) => b.tags), [[0], [1, 2], [3]]);
  });

  it('destroy() fails what waits; a backend error fails only its batch', async () => {
    const instance = new FakeInstance(true);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 1, dynamicBatching: db() });
    const failing = s.enqueue(fakeInput(0), [], 1);
    await until(() => instance.waiting === 1);
    const next = s.enqueue(fakeInput(1), [], 1);
    instance.release(new VireoError('VIREO_ERR_BACKEND_EXECUTE', 'boom'));
    assert.equal(await codeOf(failing), 'VIREO_ERR_BACKEND_EXECUTE');
    await until(() => instance.waiting === 1);
    const queued = s.enqueue(fakeInput(2), [], 1);
    s.destroy(new VireoError('VIREO_ERR_MODEL_NOT_READY', 'unloading'));
    assert.equal(await codeOf(queued), 'VIREO_ERR_MODEL_NOT_READY');
    instance.release();
    assert.equal(await codeOf(next), 'resolved');
  });

  it('fails queued requests when every instance has died instead of hanging', async () => {
    const instance = new FakeInstance(true);
    const s = new Scheduler({ instances: [instance], maxBatchSize: 1, dynamicBatching: db() });
    const running = s.enqueue(fakeInput(0), [], 1);
    await until(() => instance.waiting === 1);
    const queued = s.enqueue(fakeInput(1), [], 1);
    instance.alive = false;
    instance.release(new VireoError('VIREO_ERR_WORKER_DIED', 'gone'));
    assert.equal(await codeOf(running), 'VIREO_ERR_WORKER_DIED');
    assert.equal(await codeOf(queued), 'VIREO_ERR_WORKER_DIED');
  });

  it('runs batches on every idle instance concurrently', async () => {
    const a = new FakeInstance(true);
    const b = new FakeInstance(true);
    const s = new Scheduler({ instances: [a, b], maxBatchSize: 2, dynamicBatching: db() });
    const all = [0, 1].map((t) => s.enqueue(fakeInput(t), [], 1));
    await until(() => a.waiting === 1 && b.waiting === 1);
    all.push(...[2, 3, 4].map((t) => s.enqueue(fakeInput(t), [], 1)));
    a.release();
    await until(() => a.waiting === 1);
    b.release();
    await until(() => b.waiting === 1);
    a.release();
    b.release();
    await Promise.all(all);
    assert.deepEqual(a.batches.map((x) => x.tags), [[0], [2, 3]]);
    assert.deepEqual(b.batches.map((x) => x.tags), [[1], [4]]);
  });

  it('executionsPerInstance 2 gives each instance a second batch while it runs one, never a third, spread over instances first', async () => {
    const a = new FakeInstance(true);
    const b = new FakeInstance(true);
    const s = new Scheduler({ instances: [a, b], executionsPerInstance: 2, maxBatchSize: 1 });
    const all = [0, 1, 2, 3, 4, 5].map((t) => s.enqueue(fakeInput(t), [], 1));
    // Four slots: a, b, a, b; the fifth and sixth request wait for a slot.
    await until(() => a.waiting === 2 && b.waiting === 2);
    assert.deepEqual(a.batches.map((x) => x.tags), [[0], [2]]);
    assert.deepEqual(b.batches.map((x) => x.tags), [[1], [3]]);
    a.release();
    await until(() => a.waiting === 2);
    assert.deepEqual(a.batches.map((x) => x.tags), [[0], [2], [4]]);
    while (a.waiting + b.waiting > 0) {
      if (a.waiting > 0) a.release();
      if (b.waiting > 0) b.release();
      await sleep(1);
    }
    const results = await Promise.all(all);
    assert.deepEqual(results.map(rowsOf), [0, 1, 2, 3, 4, 5].map((t) => [2 * t, 2 * t]));
    assert.equal(a.maxRunning, 2);
    assert.equal(b.maxRunning, 2);
  });

  it('without executionsPerInstance an instance never runs two batches at once', async () => {
    const a = new FakeInstance(true);
    const s = new Scheduler({ instances: [a], maxBatchSize: 1 });
    const all = [0, 1, 2].map((t) => s.enqueue(fakeInput(t), [], 1));
    await until(() => a.waiting === 1);
    await sleep(5);
    assert.equal(a.waiting, 1);
    while (a.batches.length < 3 || a.waiting > 0) {
      await until(() => a.waiting === 1);
      a.release();
      await sleep(1);
    }
    await Promise.all(all);
    assert.equal(a.maxRunning, 1);
  });

  it('preserve_ordering answers in dispatch order even when a later batch finishes first', async () => {
    const a = new FakeInstance(true);
    const b = new FakeInstance(true);
    const s = new Scheduler({ instances: [a, b], maxBatchSize: 1, dynamicBatching: db({ preserve_ordering: true }) });
    const done: number[] = [];
    const all = [0, 1].map((t) => s.enqueue(fakeInput(t), [], 1).then(() => done.push(t)));
    await until(() => a.waiting === 1 && b.waiting === 1);
    b.release();
    await sleep(10);
    assert.deepEqual(done, [], 'the second response waits for the first');
    a.release();
    await Promise.all(all);
    assert.deepEqual(done, [0, 1]);
  });
});
