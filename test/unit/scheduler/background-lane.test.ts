/**
 * The scheduler's background lane against fake instances: batch-job work runs only on the lane's
 * own instance (opened on first need), real-time requests never wait behind it, with
 * `yieldToRealtime` a job batch starts only between real-time executions of any model
 * (realtime-gate.ts) and never waits beyond the hold bound, the lane falls back to the model's instances when it cannot open, closes when idle and when
 * the model unloads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Scheduler, type DynamicBatchingConfig } from '../../../src/scheduler/scheduler.js';
import { MAX_HOLD_MS } from '../../../src/scheduler/realtime-gate.js';
import type { Tensor } from '../../../src/core/tensor.js';
import { FakeInstance, fakeInput, until } from '../../helpers/fake-instance.js';

const db: DynamicBatchingConfig = {
  preferred_batch_size: [], max_queue_delay_microseconds: 0, preserve_ordering: false, priority_levels: 0, default_priority_level: 0,
};

class ClosingFake extends FakeInstance {
  closed = 0;
  /** performance.now() at the start of each batch. */
  readonly startedAt: number[] = [];
  override execute(inputs: Tensor[]): Promise<Tensor[]> {
    this.startedAt.push(performance.now());
    return super.execute(inputs);
  }
  override async close(): Promise<void> {
    this.closed++;
  }
}

describe('Scheduler background lane', () => {
  it('runs background work only on the lane, so a real-time request runs while a job batch is still executing', async () => {
    const own = new FakeInstance(true);
    const lane = new ClosingFake(true);
    let opened = 0;
    const s = new Scheduler({ instances: [own], maxBatchSize: 4, dynamicBatching: db, backgroundLane: { open: async () => { opened++; return lane; } } });
    const job = [s.enqueue(fakeInput(90), [], 1, { background: true }), s.enqueue(fakeInput(91), [], 1, { background: true })];
    await until(() => lane.waiting === 1);
    assert.equal(own.batches.length, 0, 'the model\'s own instance took no job work');
    // The job's batch is still running on the lane: a real-time request goes straight to its instance.
    const realTime = s.enqueue(fakeInput(1), [], 1);
    await until(() => own.waiting === 1);
    own.release();
    assert.deepEqual(Array.from((await realTime)[0]!.data as Float32Array), [2, 2]);
    lane.release();
    await Promise.all(job);
    assert.deepEqual(lane.batches.map((b) => b.tags), [[90, 91]], 'job work still makes full batches on the lane');
    assert.deepEqual(own.batches.map((b) => b.tags), [[1]]);
    assert.equal(opened, 1, 'one lane instance for the whole job');
    await s.close();
    assert.equal(lane.closed, 1, 'unloading closes the lane instance');
  });

  it('falls back to the model\'s own instances, behind real-time requests, when the lane cannot open', async () => {
    const own = new FakeInstance(true);
    const logs: string[] = [];
    const s = new Scheduler({
      instances: [own], maxBatchSize: 1, dynamicBatching: db,
      backgroundLane: { open: async () => { throw new Error('no memory for a second session'); }, log: (_level, message) => logs.push(message) },
    });
    const busy = s.enqueue(fakeInput(0), [], 1);
    await until(() => own.waiting === 1);
    const job = s.enqueue(fakeInput(90), [], 1, { background: true });
    await until(() => logs.length === 1);
    const realTime = s.enqueue(fakeInput(1), [], 1);
    for (let i = 0; i < 3; i++) {
      await until(() => own.waiting === 1);
      own.release();
    }
    await Promise.all([busy, job, realTime]);
    assert.deepEqual(own.batches.map((b) => b.tags[0]), [0, 1, 90]);
    assert.match(logs[0]!, /no memory for a second session/);
  });

  it('closes the lane instance once jobs leave it idle, and opens a new one for the next job', async () => {
    const lanes: ClosingFake[] = [];
    const s = new Scheduler({
      instances: [new FakeInstance()], maxBatchSize: 1, dynamicBatching: db,
      backgroundLane: { open: async () => { lanes.push(new ClosingFake()); return lanes.at(-1)!; }, idleCloseMs: 20 },
    });
    await s.enqueue(fakeInput(90), [], 1, { background: true });
    await until(() => lanes[0]!.closed === 1);
    await s.enqueue(fakeInput(91), [], 1, { background: true });
    assert.equal(lanes.length, 2);
    assert.deepEqual(lanes.map((l) => l.batches.map((b) => b.tags[0])), [[90], [91]]);
    await s.close();
    assert.deepEqual(lanes.map((l) => l.closed), [1, 1]);
  });

  it('replaces a lane instance that died', async () => {
    const lanes: ClosingFake[] = [];
    const s = new Scheduler({
      instances: [new FakeInstance()], maxBatchSize: 1, dynamicBatching: db,
      backgroundLane: { open: async () => { lanes.push(new ClosingFake()); return lanes.at(-1)!; } },
    });
    await s.enqueue(fakeInput(90), [], 1, { background: true });
    lanes[0]!.alive = false;
    await s.enqueue(fakeInput(91), [], 1, { background: true });
    assert.equal(lanes.length, 2);
    assert.equal(lanes[0]!.closed, 1);
    assert.deepEqual(lanes[1]!.batches.map((b) => b.tags[0]), [91]);
    await s.close();
  });

  it('starts a job batch only once no real-time execution of any model runs', async () => {
    const lane = new ClosingFake(true);
    const jobModel = new Scheduler({ instances: [new FakeInstance(true)], maxBatchSize: 4, dynamicBatching: db, backgroundLane: { open: async () => lane }, yieldToRealtime: true });
    const otherInstance = new FakeInstance(true);
    const otherModel = new Scheduler({ instances: [otherInstance], maxBatchSize: 4, dynamicBatching: db });
    const realTime = otherModel.enqueue(fakeInput(1), [], 1);
    await until(() => otherInstance.waiting === 1);
    const enqueued = performance.now();
    const job = jobModel.enqueue(fakeInput(90), [], 1, { background: true });
    // The lane opens, but its batch waits for the other model's execution (well within the hold bound).
    await new Promise((r) => setTimeout(r, MAX_HOLD_MS / 2));
    // A loaded machine may wake this test after the bound ran out: then the batch may have started,
    // but only by the bound, never before it.
    if (lane.startedAt.length > 0) {
      const waited = lane.startedAt[0]! - enqueued;
      assert.ok(waited >= MAX_HOLD_MS - 1, `a job batch started after ${waited.toFixed(1)} ms while a real-time execution ran`);
    }
    otherInstance.release();
    await realTime;
    await until(() => lane.waiting === 1);
    lane.release();
    await job;
    assert.deepEqual(lane.batches.map((b) => b.tags), [[90]]);
    await Promise.all([jobModel.close(), otherModel.close()]);
  });

  it('starts a held job batch anyway once the real-time executions have held it for the bound', async () => {
    const lane = new ClosingFake();
    const own = new FakeInstance(true);
    const s = new Scheduler({ instances: [own], maxBatchSize: 4, dynamicBatching: db, backgroundLane: { open: async () => lane }, yieldToRealtime: true });
    const realTime = s.enqueue(fakeInput(1), [], 1);
    await until(() => own.waiting === 1);
    const started = performance.now();
    await s.enqueue(fakeInput(90), [], 1, { background: true });
    const waited = performance.now() - started;
    assert.ok(waited >= MAX_HOLD_MS - 5, `the job batch waited ${waited.toFixed(0)} ms behind the running real-time execution`);
    assert.equal(own.waiting, 1, 'the real-time execution was still running when the job batch ran');
    own.release();
    await realTime;
    await s.close();
  });

  it('without yieldToRealtime (the default), starts a job batch beside a running real-time execution', async () => {
    const lane = new ClosingFake(true);
    const own = new FakeInstance(true);
    const s = new Scheduler({ instances: [own], maxBatchSize: 4, dynamicBatching: db, backgroundLane: { open: async () => lane } });
    const realTime = s.enqueue(fakeInput(1), [], 1);
    await until(() => own.waiting === 1);
    const job = s.enqueue(fakeInput(90), [], 1, { background: true });
    await until(() => lane.waiting === 1);
    assert.equal(own.waiting, 1, 'the real-time execution is still running');
    lane.release();
    own.release();
    await Promise.all([job, realTime]);
    await s.close();
  });
});
