/**
 * Adaptive batching decisions from synthetic timings: execution time t(B) = 4 ms + 0.1 ms·B
 * (a model that batches well), arrivals at a steady rate. Expected choices are worked out by hand
 * in each test from the rule in docs/adaptive-batching.md.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdaptiveBatching } from '../../../src/scheduler/adaptive-batching.js';

const MS = 1e6;
const t = (b: number) => 4 * MS + 0.1 * MS * b;

function trained(targetLatencyMs: number, sizes = [1, 2, 4, 8, 16, 32]): AdaptiveBatching {
  const a = new AdaptiveBatching({ targetLatencyMs, maxBatchSize: 32, instances: 1 });
  for (const b of sizes) for (let i = 0; i < 5; i++) a.observeBatch(b, t(b));
  return a;
}

/**
 * Feeds single-item arrivals every `gapNs` for `durationNs`, with `pending` requests queued or
 * executing meanwhile (plenty by default: the population is not what such a test is about);
 * returns the final clock.
 */
function arrive(a: AdaptiveBatching, gapNs: number, durationNs: number, pending = 64): number {
  let now = 0;
  for (; now < durationNs; now += gapNs) {
    a.observeArrival(now, 1);
    a.observePending(now, pending);
  }
  return now;
}

describe('AdaptiveBatching', () => {
  it('before any timing it dispatches greedily: no delay, any size', () => {
    const a = new AdaptiveBatching({ targetLatencyMs: 50, maxBatchSize: 32, instances: 1 });
    assert.deepEqual(a.decide(0), { maxBatchSize: 32, preferred: [32], maxQueueDelayNs: 0 });
  });

  it('estimates the arrival rate', () => {
    const a = trained(50);
    const now = arrive(a, MS, 3000 * MS);
    const rate = a.arrivalRate(now);
    assert.ok(rate > 950 && rate < 1050, `rate ${rate}`);
  });

  it('at light load runs requests alone and does not wait', () => {
    const a = trained(50);
    const now = arrive(a, 100 * MS, 3000 * MS); // 10 requests/s: one instance at B=1 carries 240/s
    const policy = a.decide(now);
    assert.equal(policy.preferred[0], 1);
    assert.equal(policy.maxQueueDelayNs, 0);
  });

  it('under load picks the smallest batch that carries the load at 80 % utilisation, waiting its fill time, and takes any backlog', () => {
    // 1000/s: 0.8·B/(4 + 0.1B) ms ≥ 1/ms ⇒ 0.7B ≥ 4 ⇒ B = 6; fill = 5 ms; 5 + 2·4.6 = 14.2 ms ≤ 50 ms.
    const a = trained(50);
    const now = arrive(a, MS, 3000 * MS);
    const policy = a.decide(now);
    assert.deepEqual(policy.preferred, Array.from({ length: 27 }, (_, i) => 6 + i), 'every size from 6 to max_batch_size');
    assert.ok(policy.maxQueueDelayNs > 4.5 * MS && policy.maxQueueDelayNs < 5.5 * MS, `delay ${policy.maxQueueDelayNs}`);
  });

  it('a closed-loop client alone is never made to wait', () => {
    // One client whose next request comes right after each 4.1 ms answer: λ ≈ 1 / t(1), and with
    // noise a little above it — more than one instance at B = 1 carries at 80 %, but there is
    // never a second request to wait for.
    const a = trained(50);
    const now = arrive(a, 3.8 * MS, 3000 * MS, 1);
    assert.equal(a.population(), 1);
    assert.equal(a.decide(now).preferred[0], 1);
    assert.equal(a.decide(now).maxQueueDelayNs, 0);
  });

  it('never aims for a batch larger than the requests recently outstanding', () => {
    // 2000/s from 12 closed-loop clients: 0.8·B/(4 + 0.1B) ≥ 2 ⇒ B ≥ 13.3, more than 12 can give,
    // so the largest (highest-capacity) size within the population: 12 (fill 5.5 ms + 2·5.2 ≤ 50).
    const twelve = trained(50);
    assert.equal(twelve.decide(arrive(twelve, 0.5 * MS, 3000 * MS, 12)).preferred[0], 12);
    // With a larger population the size that carries the load at 80 % is within reach: 14.
    const many = trained(50);
    assert.equal(many.decide(arrive(many, 0.5 * MS, 3000 * MS, 40)).preferred[0], 14);
  });

  it('forgets a past population after two quiet windows', () => {
    const a = trained(50);
    a.observePending(0, 30);
    a.observePending(500 * MS, 2);
    assert.equal(a.population(), 30);
    a.observePending(1200 * MS, 2);
    assert.equal(a.population(), 30, 'the previous window still counts');
    a.observePending(2300 * MS, 2);
    assert.equal(a.population(), 2);
  });

  it('with a tight target takes the highest-capacity size that still meets it', () => {
    // 10 ms at 1000/s: (B − 1) + 2(4 + 0.1B) ≤ 10 ⇒ B ≤ 2.5; none carries the load, so B = 2.
    const a = trained(10);
    const now = arrive(a, MS, 3000 * MS);
    assert.equal(a.decide(now).preferred[0], 2);
  });

  it('when even a lone request cannot meet the target it stops waiting altogether', () => {
    const a = trained(5);
    const now = arrive(a, MS, 3000 * MS);
    assert.deepEqual(a.decide(now), { maxBatchSize: 32, preferred: [32], maxQueueDelayNs: 0 });
  });

  it('interpolates unseen sizes with a least-squares line through the seen ones', () => {
    const a = trained(50, [1, 8]);
    const e = a.estimate(4)!;
    assert.ok(Math.abs(e.meanNs - t(4)) < 0.01 * MS, `estimate ${e.meanNs}`);
    assert.equal(a.estimate(4)!.p99Ns, e.meanNs, 'steady timings: p99 = mean');
  });

  it('with one size seen assumes no batching gain (linear scaling)', () => {
    const a = trained(50, [2]);
    assert.ok(Math.abs(a.estimate(8)!.meanNs - 4 * t(2)) < 1);
  });

  it('puts jitter into the p99 estimate', () => {
    const a = new AdaptiveBatching({ targetLatencyMs: 50, maxBatchSize: 8, instances: 1 });
    for (let i = 0; i < 50; i++) a.observeBatch(4, i % 2 === 0 ? 3 * MS : 5 * MS);
    const e = a.estimate(4)!;
    assert.ok(e.meanNs > 3.5 * MS && e.meanNs < 4.5 * MS);
    assert.ok(e.p99Ns > e.meanNs + 1 * MS, `p99 ${e.p99Ns}`);
  });

  it('shrinks its latency budget when the measured p99 overshoots the target, and recovers', () => {
    const a = trained(50);
    for (let i = 0; i < 256; i++) a.observeLatency(80 * MS);
    assert.ok(a.slack < 1);
    const shrunk = a.slack;
    for (let i = 0; i < 1024; i++) a.observeLatency(10 * MS);
    assert.ok(a.slack > shrunk);
  });

  it('more instances carry more load with smaller batches', () => {
    // Two instances at 1000/s: 0.8·2B/(4 + 0.1B) ≥ 1 ⇒ 1.5B ≥ 4 ⇒ B = 3 (one instance needs 6).
    const a = new AdaptiveBatching({ targetLatencyMs: 50, maxBatchSize: 32, instances: 2 });
    for (const b of [1, 2, 4, 8]) for (let i = 0; i < 5; i++) a.observeBatch(b, t(b));
    const now = arrive(a, MS, 3000 * MS);
    assert.equal(a.decide(now).preferred[0], 3);
  });
});

describe('Scheduler in adaptive mode', async () => {
  const { Scheduler } = await import('../../../src/scheduler/scheduler.js');
  const { FakeInstance, fakeInput, until } = await import('../../helpers/fake-instance.js');

  it('starts greedy, learns execution times from the batches it runs, and batches a backlog whole', async () => {
    const instance = new FakeInstance(true);
    const s = new Scheduler({
      instances: [instance], maxBatchSize: 8,
      dynamicBatching: { preferred_batch_size: [], max_queue_delay_microseconds: 0, preserve_ordering: false, priority_levels: 0, default_priority_level: 0, adaptive: { target_latency_ms: 1000 } },
    });
    const first = s.enqueue(fakeInput(0), [], 1);
    await until(() => instance.waiting === 1);
    const rest = [1, 2, 3, 4, 5].map((t) => s.enqueue(fakeInput(t), [], 1));
    instance.release();
    await until(() => instance.waiting === 1);
    instance.release();
    await Promise.all([first, ...rest]);
    assert.deepEqual(instance.batches.map((b) => b.tags), [[0], [1, 2, 3, 4, 5]]);
    assert.ok(s.adaptive!.estimate(1)!.meanNs > 0);
    assert.ok(s.adaptive!.estimate(5)!.meanNs > 0);
  });
});
