/**
 * Adaptive dynamic batching (Vireo's extension, `dynamic_batching.adaptive.target_latency_ms`):
 * instead of a fixed max_queue_delay and preferred sizes, it learns online how long a batch of
 * each size takes and chooses, for the current arrival rate, the batch size to aim for and how
 * long a batch may wait to reach it, so that throughput keeps up with the load and the p99 request
 * latency stays under the target. The algorithm and its assumptions are in docs/adaptive-batching.md.
 *
 * Pure bookkeeping, no timers: the scheduler reports arrivals, batch execution times and request
 * latencies, and asks for a BatchPolicy each time it plans; the planner stays Triton's.
 */
import { RecentPeak } from '../core/recent-peak.js';
import type { BatchPolicy } from './batch-planner.js';

export interface AdaptiveOptions {
  targetLatencyMs: number;
  maxBatchSize: number;
  /** Instances that execute batches in parallel. */
  instances: number;
}

export interface Estimate { meanNs: number; p99Ns: number }

/** Weight of a new execution time in the per-size moving average. */
const ALPHA = 0.2;
/** Samples at one size before its own average is trusted over the linear fit. */
const TRUSTED_SAMPLES = 3;
/** Normal quantile for p99 of the execution time from mean and deviation. */
const Z99 = 2.33;
/** Time constant of the arrival-rate estimate. */
const RATE_TAU_NS = 500e6;
/**
 * A size carries the load when the arrival rate keeps its instances at most this busy. The
 * headroom matters twice: queueing delay grows steeply as utilisation nears 1, and under
 * closed-loop clients (each sends its next request after its answer) the arrival rate is itself
 * the throughput of the sizes chosen so far — a rule that picks the smallest size just carrying
 * it keeps confirming itself at half the throughput larger batches give. With headroom the choice
 * climbs until the larger batches stop raising the rate (or reach the population, below).
 */
const TARGET_UTILISATION = 0.8;
/**
 * Requests outstanding (queued or executing) over the last one to two of these windows: their peak
 * is the population a batch can be gathered from. Waiting for more than that is waiting for
 * company that cannot come — a lone closed-loop client never has any.
 */
const POPULATION_WINDOW_NS = 1e9;
/** Request latencies kept to measure the achieved p99. */
const WINDOW = 256;
/** The plan is recomputed after this many observations or this much time. */
const REPLAN_EVERY = 16;
const REPLAN_NS = 10e6;

export class AdaptiveBatching {
  readonly #targetNs: number;
  readonly #maxBatchSize: number;
  readonly #instances: number;
  readonly #mean: Float64Array;
  readonly #variance: Float64Array;
  readonly #count: Uint32Array;
  #rate = 0;
  #rateAt = 0;
  /** Items per request (moving average), to turn outstanding requests into items. */
  #itemsPerRequest = 1;
  readonly #pending = new RecentPeak(POPULATION_WINDOW_NS);
  readonly #latencies = new Float64Array(WINDOW);
  #latencyCount = 0;
  /** Fraction of the target the planner may spend; shrinks when the measured p99 overshoots. */
  #slack = 1;
  #policy: BatchPolicy;
  #plannedAt = -Infinity;
  #sincePlan = 0;

  constructor(options: AdaptiveOptions) {
    this.#targetNs = options.targetLatencyMs * 1e6;
    this.#maxBatchSize = Math.max(1, options.maxBatchSize);
    this.#instances = Math.max(1, options.instances);
    this.#mean = new Float64Array(this.#maxBatchSize + 1);
    this.#variance = new Float64Array(this.#maxBatchSize + 1);
    this.#count = new Uint32Array(this.#maxBatchSize + 1);
    this.#policy = this.#greedy();
  }

  /** `items` arrived at `now` (ns). Updates an exponentially decaying rate estimate (items/ns). */
  observeArrival(now: number, items: number): void {
    this.#decayRate(now);
    this.#rate += items / RATE_TAU_NS;
    this.#itemsPerRequest += ALPHA * (items - this.#itemsPerRequest);
  }

  /** `requests` are queued or executing at `now` (reported whenever the scheduler plans). */
  observePending(now: number, requests: number): void {
    this.#pending.roll(now, requests);
    this.#pending.note(requests);
  }

  /** The most items recently outstanding at once: the largest batch worth waiting for. */
  population(): number {
    return Math.max(1, Math.round(this.#pending.value * this.#itemsPerRequest));
  }

  /** A batch of `batchSize` items took `ns` to execute. */
  observeBatch(batchSize: number, ns: number): void {
    if (batchSize < 1 || batchSize > this.#maxBatchSize || !(ns > 0)) return;
    const n = this.#count[batchSize]!;
    if (n === 0) {
      this.#mean[batchSize] = ns;
    } else {
      const delta = ns - this.#mean[batchSize]!;
      this.#mean[batchSize] = this.#mean[batchSize]! + ALPHA * delta;
      this.#variance[batchSize] = (1 - ALPHA) * (this.#variance[batchSize]! + ALPHA * delta * delta);
    }
    this.#count[batchSize] = n + 1;
    this.#sincePlan++;
  }

  /** A request finished `ns` after it arrived; feeds the achieved-p99 feedback loop. */
  observeLatency(ns: number): void {
    this.#latencies[this.#latencyCount % WINDOW] = ns;
    this.#latencyCount++;
    if (this.#latencyCount % (WINDOW / 4) === 0 && this.#latencyCount >= WINDOW) {
      const p99 = percentile(this.#latencies, 0.99);
      if (p99 > this.#targetNs) this.#slack = Math.max(0.2, this.#slack * 0.8);
      else if (p99 < 0.8 * this.#targetNs) this.#slack = Math.min(1, this.#slack + 0.05);
    }
    this.#sincePlan++;
  }

  /** Arrival rate in items per second, as estimated at `now`. */
  arrivalRate(now: number): number {
    this.#decayRate(now);
    return this.#rate * 1e9;
  }

  get slack(): number {
    return this.#slack;
  }

  /**
   * Execution time of a batch of `size`: its own moving average once it has enough samples,
   * else a least-squares line through the sizes seen (weighted by their sample counts), else the
   * one size seen scaled linearly (no batching gain assumed: the pessimistic guess).
   */
  estimate(size: number): Estimate | undefined {
    if (this.#count[size]! >= TRUSTED_SAMPLES) {
      return { meanNs: this.#mean[size]!, p99Ns: this.#mean[size]! + Z99 * Math.sqrt(this.#variance[size]!) };
    }
    let sw = 0; let sx = 0; let sy = 0; let sxx = 0; let sxy = 0; let relDev = 0;
    for (let b = 1; b <= this.#maxBatchSize; b++) {
      const n = this.#count[b]!;
      if (n === 0) continue;
      const w = Math.min(n, 20);
      const y = this.#mean[b]!;
      sw += w; sx += w * b; sy += w * y; sxx += w * b * b; sxy += w * b * y;
      relDev += w * (Math.sqrt(this.#variance[b]!) / y);
    }
    if (sw === 0) return undefined;
    relDev /= sw;
    const denominator = sw * sxx - sx * sx;
    let meanNs: number;
    if (denominator > 1e-9 * sw * sxx) {
      const slope = (sw * sxy - sx * sy) / denominator;
      const intercept = (sy - slope * sx) / sw;
      meanNs = intercept + slope * size;
      // A fit can go below zero or below a measured smaller size; execution time never shrinks with size.
      const floor = this.#largestMeasuredBelow(size);
      if (!(meanNs >= floor)) meanNs = floor;
    } else {
      const seen = sx / sw;
      meanNs = (sy / sw) * (size / seen);
    }
    return { meanNs, p99Ns: meanNs * (1 + Z99 * relDev) };
  }

  /** The batch policy to plan with at `now`. */
  policy(now: number): BatchPolicy {
    if (this.#sincePlan >= REPLAN_EVERY || now - this.#plannedAt >= REPLAN_NS) {
      this.#policy = this.decide(now);
      this.#plannedAt = now;
      this.#sincePlan = 0;
    }
    return this.#policy;
  }

  /**
   * For each batch size B with an estimate, up to the recent population of outstanding items:
   * filling it takes about (B−1)/λ at arrival rate λ; the first request of the batch may also wait
   * for a batch already running, so its latency is about fill + 2·p99(B). Sizes within the target
   * (times the slack) are feasible. Among them the smallest whose capacity (instances·B / mean(B))
   * carries λ at TARGET_UTILISATION wins (lowest latency at that load); if none does, the one with
   * the highest capacity. The delay is the fill time, bounded by what the target leaves after two
   * executions. The policy prefers every size from the chosen one up to max_batch_size: the batch
   * waits (at most the delay) until it holds the chosen size, and then takes everything queued.
   */
  decide(now: number): BatchPolicy {
    const rate = this.arrivalRate(now) / 1e9;
    const budget = this.#targetNs * this.#slack;
    if (this.estimate(1) === undefined && this.estimate(this.#maxBatchSize) === undefined) return this.#greedy();
    let carrying: { size: number; delay: number } | undefined;
    let fastest: { size: number; delay: number; capacity: number } | undefined;
    const largest = Math.min(this.#maxBatchSize, this.population());
    for (let b = 1; b <= largest; b++) {
      const e = this.estimate(b);
      if (!e) continue;
      const fill = b === 1 ? 0 : rate > 0 ? (b - 1) / rate : Infinity;
      if (fill + 2 * e.p99Ns > budget) continue;
      const capacity = (this.#instances * b) / e.meanNs;
      const delay = Math.max(0, Math.min(fill, budget - 2 * e.p99Ns));
      if (!carrying && TARGET_UTILISATION * capacity >= rate) carrying = { size: b, delay };
      if (!fastest || capacity > fastest.capacity) fastest = { size: b, delay, capacity };
    }
    const chosen = carrying ?? fastest;
    // Nothing meets the target, even alone: run at once, whatever is queued, to lose no more time.
    if (!chosen) return this.#greedy();
    // Every size from the chosen one up is preferred: a backlog larger than it goes at once, whole.
    const preferred = Array.from({ length: this.#maxBatchSize - chosen.size + 1 }, (_, i) => chosen.size + i);
    return { maxBatchSize: this.#maxBatchSize, preferred, maxQueueDelayNs: Math.round(chosen.delay) };
  }

  /** No waiting: dispatch whatever is queued whenever an instance is free. */
  #greedy(): BatchPolicy {
    return { maxBatchSize: this.#maxBatchSize, preferred: [this.#maxBatchSize], maxQueueDelayNs: 0 };
  }

  #largestMeasuredBelow(size: number): number {
    for (let b = Math.min(size, this.#maxBatchSize); b >= 1; b--) if (this.#count[b]! > 0) return this.#mean[b]!;
    return 0;
  }

  #decayRate(now: number): void {
    if (now > this.#rateAt) {
      this.#rate *= Math.exp(-(now - this.#rateAt) / RATE_TAU_NS);
      this.#rateAt = now;
    }
  }
}

function percentile(values: Float64Array, q: number): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
