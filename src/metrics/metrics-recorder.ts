/**
 * The metrics side of one model version: implements the scheduler's recorder with label children
 * bound once when the version is created, so a report is a few additions and bucket searches, with
 * no label objects built per request. Failure reasons are a bounded set (error codes) and each
 * gets its child the first time it occurs.
 */
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { BatchTimings, RequestOutcome, RequestTimings, SchedulerRecorder } from '../scheduler/recorder.js';

/** The families a version records into; owned by VireoMetrics. */
export interface VersionFamilies {
  requests: Counter<'model' | 'version' | 'outcome' | 'reason'>;
  inferenceCount: Counter<'model' | 'version'>;
  execCount: Counter<'model' | 'version'>;
  requestDuration: Histogram<'model' | 'version'>;
  queueDuration: Histogram<'model' | 'version'>;
  computeInput: Histogram<'model' | 'version'>;
  computeInfer: Histogram<'model' | 'version'>;
  computeOutput: Histogram<'model' | 'version'>;
  batchSize: Histogram<'model' | 'version'>;
  pending: Gauge<'model' | 'version'>;
  busy: Gauge<'model' | 'version'>;
  loadDuration: Gauge<'model' | 'version'>;
}

type Inc = { inc(value?: number): void };
type Observe = { observe(value: number): void };
type Set = { set(value: number): void };

const NS_PER_S = 1e9;

export class MetricsRecorder implements SchedulerRecorder {
  readonly #families: VersionFamilies;
  readonly #labels: { model: string; version: string };
  readonly #success: Inc;
  readonly #failures = new Map<string, Inc>();
  readonly #items: Inc;
  readonly #execs: Inc;
  readonly #request: Observe;
  readonly #queue: Observe;
  readonly #input: Observe;
  readonly #infer: Observe;
  readonly #output: Observe;
  readonly #batch: Observe;
  readonly #pending: Set;
  readonly #busy: Set;

  constructor(families: VersionFamilies, model: string, version: string) {
    this.#families = families;
    const labels = { model, version };
    this.#labels = labels;
    this.#success = families.requests.labels({ ...labels, outcome: 'success', reason: '' });
    this.#items = families.inferenceCount.labels(labels);
    this.#execs = families.execCount.labels(labels);
    this.#request = families.requestDuration.labels(labels);
    this.#queue = families.queueDuration.labels(labels);
    this.#input = families.computeInput.labels(labels);
    this.#infer = families.computeInfer.labels(labels);
    this.#output = families.computeOutput.labels(labels);
    this.#batch = families.batchSize.labels(labels);
    this.#pending = families.pending.labels(labels);
    this.#busy = families.busy.labels(labels);
    this.#pending.set(0);
    this.#busy.set(0);
  }

  /**
   * Successful requests feed the duration histograms (as Triton's duration counters count only
   * successes), so a failing fast path (queue full) cannot pull the latency quantiles down.
   */
  request(outcome: RequestOutcome, items: number, totalNs: number, timings: RequestTimings | undefined, reason?: string): void {
    if (outcome === 'failure') {
      this.#failure(reason ?? 'VIREO_ERR_INTERNAL').inc();
      return;
    }
    this.#success.inc();
    this.#items.inc(items);
    this.#request.observe(totalNs / NS_PER_S);
    if (timings) {
      this.#queue.observe(timings.queueNs / NS_PER_S);
      this.#input.observe(timings.computeInputNs / NS_PER_S);
      this.#infer.observe(timings.computeInferNs / NS_PER_S);
      this.#output.observe(timings.computeOutputNs / NS_PER_S);
    }
  }

  batch(timings: BatchTimings): void {
    this.#execs.inc();
    this.#batch.observe(timings.batchSize);
  }

  pending(count: number): void {
    this.#pending.set(count);
  }

  busy(count: number): void {
    this.#busy.set(count);
  }

  /** The repository finished loading this version (successfully or not). */
  loaded(seconds: number): void {
    this.#families.loadDuration.labels(this.#labels).set(seconds);
  }

  /** The version is gone: its series go too, so rolling versions do not grow the scrape forever. */
  unloaded(): void {
    const f = this.#families;
    f.requests.remove({ ...this.#labels, outcome: 'success', reason: '' });
    for (const reason of this.#failures.keys()) f.requests.remove({ ...this.#labels, outcome: 'failure', reason });
    for (const family of [f.inferenceCount, f.execCount, f.requestDuration, f.queueDuration, f.computeInput,
      f.computeInfer, f.computeOutput, f.batchSize, f.pending, f.busy, f.loadDuration] as const) {
      (family as { remove(labels: { model: string; version: string }): void }).remove(this.#labels);
    }
  }

  #failure(reason: string): Inc {
    let child = this.#failures.get(reason);
    if (!child) {
      child = this.#families.requests.labels({ ...this.#labels, outcome: 'failure', reason });
      this.#failures.set(reason, child);
    }
    return child;
  }
}
