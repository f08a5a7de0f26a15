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

/** Feeds single-item arrivals every `gapNs` for `durationNs`; returns the final clock. */
function arrive(a: AdaptiveBatching, gapNs: number, durationNs: number): number {
  let now = 0;
  for (; now < durationNs; now += gapNs) a.observeArrival(now, 1);
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
    assert.deepEqual(a.decide(now), { maxBatchSize: 32, preferred: [1], maxQueueDelayNs: 0 });
  });

  it('under load picks the smallest batch that carries the load with headroom, waiting its fill time', () => {
    // 1000/s: B/(4 + 0.1B) ms ≥ 1.25/ms ⇒ B ≥ 5.71 ⇒ B = 6; fill = 5 ms; 5 + 2·4.6 = 14.2 ms ≤ 50 ms.
    const a = trained(50);
    const now = arrive(a, MS, 3000 * MS);
    const policy = a.decide(now);
    assert.deepEqual(policy.preferred, [6]);
    assert.ok(policy.maxQueueDelayNs > 4.5 * MS && policy.maxQueueDelayNs < 5.5 * MS, `delay ${policy.maxQueueDelayNs}`);
  });

  it('with a tight target takes the highest-capacity size that still meets it', () => {
    // 10 ms at 1000/s: (B − 1) + 2(4 + 0.1B) ≤ 10 ⇒ B ≤ 2.5; none carries the load, so B = 2.
    const a = trained(10);
    const now = arrive(a, MS, 3000 * MS);
    assert.deepEqual(a.decide(now).preferred, [2]);
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
    // Two instances at 1000/s: 2B/(4 + 0.1B) ≥ 1.25 ⇒ B ≥ 2.6 ⇒ B = 3.
    const a = new AdaptiveBatching({ targetLatencyMs: 50, maxBatchSize: 32, instances: 2 });
    for (const b of [1, 2, 4, 8]) for (let i = 0; i < 5; i++) a.observeBatch(b, t(b));
    const now = arrive(a, MS, 3000 * MS);
    assert.deepEqual(a.decide(now).preferred, [3]);
  });
});
