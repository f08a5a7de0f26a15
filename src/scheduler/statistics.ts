/**
 * Triton's statistics extension, per model version: cumulative counts and durations kept by the
 * recorder the scheduler reports to. Shapes follow extension_statistics.md field for field.
 */
import { forwardOptional, type BatchTimings, type RequestTimings, type SchedulerRecorder } from './recorder.js';

export interface StatDuration { count: number; ns: number }

export interface InferStats {
  success: StatDuration;
  fail: StatDuration;
  queue: StatDuration;
  compute_input: StatDuration;
  compute_infer: StatDuration;
  compute_output: StatDuration;
  cache_hit: StatDuration;
  cache_miss: StatDuration;
}

export interface BatchStats {
  batch_size: number;
  compute_input: StatDuration;
  compute_infer: StatDuration;
  compute_output: StatDuration;
}

export interface ModelVersionStats {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: InferStats;
  batch_stats: BatchStats[];
  memory_usage: never[];
  /** Vireo: present for a stateful (sequence-batched) model once it has seen a sequence. */
  sequence_stats?: SequenceStats;
}

export interface SequenceStats {
  active: number;
  backlog: number;
  started: number;
  ended: number;
  released_idle: number;
}

const zero = (): StatDuration => ({ count: 0, ns: 0 });
const add = (d: StatDuration, ns: number, count = 1) => { d.count += count; d.ns += ns; };

export class StatisticsRecorder implements SchedulerRecorder {
  #lastInference = 0;
  #inferenceCount = 0;
  #executionCount = 0;
  readonly #infer: InferStats = {
    success: zero(), fail: zero(), queue: zero(), compute_input: zero(), compute_infer: zero(),
    compute_output: zero(), cache_hit: zero(), cache_miss: zero(),
  };
  readonly #batches = new Map<number, BatchStats>();
  #sequences: SequenceStats | undefined;

  constructor(readonly name: string, readonly version: string) {}

  request(outcome: 'success' | 'failure', items: number, totalNs: number, timings: RequestTimings | undefined): void {
    if (outcome === 'failure') {
      add(this.#infer.fail, totalNs);
      return;
    }
    this.#lastInference = Date.now();
    this.#inferenceCount += items;
    add(this.#infer.success, totalNs);
    if (timings) {
      add(this.#infer.queue, timings.queueNs);
      add(this.#infer.compute_input, timings.computeInputNs);
      add(this.#infer.compute_infer, timings.computeInferNs);
      add(this.#infer.compute_output, timings.computeOutputNs);
    }
  }

  batch(timings: BatchTimings): void {
    this.#executionCount++;
    let stats = this.#batches.get(timings.batchSize);
    if (!stats) {
      stats = { batch_size: timings.batchSize, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      this.#batches.set(timings.batchSize, stats);
    }
    add(stats.compute_input, timings.computeInputNs);
    add(stats.compute_infer, timings.computeInferNs);
    add(stats.compute_output, timings.computeOutputNs);
  }

  pending(): void {}
  busy(): void {}

  sequences(active: number, backlog: number): void {
    const s = this.#sequenceStats();
    s.active = active;
    s.backlog = backlog;
  }

  sequenceStarted(): void {
    this.#sequenceStats().started++;
  }

  sequenceEnded(why: 'ended' | 'idle'): void {
    if (why === 'ended') this.#sequenceStats().ended++;
    else this.#sequenceStats().released_idle++;
  }

  /**
   * As extension_statistics.md says: a hit counts in success and queue (its whole time is the
   * lookup), not in inference_count, execution_count or the compute durations.
   */
  cacheHit(ns: number): void {
    add(this.#infer.cache_hit, ns);
    add(this.#infer.success, ns);
    add(this.#infer.queue, ns);
    this.#lastInference = Date.now();
  }

  cacheMiss(ns: number): void {
    add(this.#infer.cache_miss, ns);
  }

  #sequenceStats(): SequenceStats {
    return (this.#sequences ??= { active: 0, backlog: 0, started: 0, ended: 0, released_idle: 0 });
  }

  snapshot(): ModelVersionStats {
    return {
      name: this.name,
      version: this.version,
      last_inference: this.#lastInference,
      inference_count: this.#inferenceCount,
      execution_count: this.#executionCount,
      inference_stats: structuredClone(this.#infer),
      batch_stats: [...this.#batches.values()].sort((a, b) => a.batch_size - b.batch_size).map((b) => structuredClone(b)),
      memory_usage: [],
      ...(this.#sequences ? { sequence_stats: { ...this.#sequences } } : {}),
    };
  }
}

/** Sends every report to each recorder in turn; built once per version, not per request. */
export function fanOut(recorders: SchedulerRecorder[]): SchedulerRecorder {
  if (recorders.length === 1) return recorders[0]!;
  return {
    request: (...args) => { for (const r of recorders) r.request(...args); },
    batch: (t, traces) => { for (const r of recorders) r.batch(t, traces); },
    pending: (n) => { for (const r of recorders) r.pending(n); },
    busy: (n) => { for (const r of recorders) r.busy(n); },
    ...forwardOptional(recorders),
  };
}
