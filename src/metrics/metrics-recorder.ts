/**
 * The metrics side of one model version: implements the scheduler's recorder over cells created
 * once when the version is created (cell-families.ts), so a report is a few field additions and
 * bucket searches — no label objects, hashing or map lookups per request. Failure reasons are a
 * bounded set (error codes); each gets its cell the first time it occurs.
 */
import type { BatchTimings, RequestOutcome, RequestTimings, SchedulerRecorder } from '../scheduler/recorder.js';
import type { CounterFamily, GaugeFamily, HistogramCell, HistogramFamily, ValueCell } from './cell-families.js';

/** The families a version records into; owned by VireoMetrics. */
export interface VersionFamilies {
  requests: CounterFamily;
  inferenceCount: CounterFamily;
  execCount: CounterFamily;
  requestDuration: HistogramFamily;
  queueDuration: HistogramFamily;
  computeInput: HistogramFamily;
  computeInfer: HistogramFamily;
  computeOutput: HistogramFamily;
  batchSize: HistogramFamily;
  pending: GaugeFamily;
  busy: GaugeFamily;
  loadDuration: GaugeFamily;
  sequencesActive: GaugeFamily;
  sequenceBacklog: GaugeFamily;
  sequencesStarted: CounterFamily;
  sequencesEnded: CounterFamily;
  cacheHits: CounterFamily;
  cacheMisses: CounterFamily;
}

const NS_PER_S = 1e9;

export class MetricsRecorder implements SchedulerRecorder {
  readonly #families: VersionFamilies;
  readonly #labels: { model: string; version: string };
  readonly #success: ValueCell;
  readonly #failures = new Map<string, ValueCell>();
  readonly #items: ValueCell;
  readonly #execs: ValueCell;
  readonly #request: HistogramCell;
  readonly #queue: HistogramCell;
  readonly #input: HistogramCell;
  readonly #infer: HistogramCell;
  readonly #output: HistogramCell;
  readonly #batch: HistogramCell;
  readonly #pending: ValueCell;
  readonly #busy: ValueCell;
  #load: ValueCell | undefined;
  /** Sequence and cache series exist only for versions that use those features (created on first report). */
  readonly #lazy = new Map<string, { family: CounterFamily | GaugeFamily; cell: ValueCell }>();

  constructor(families: VersionFamilies, model: string, version: string) {
    this.#families = families;
    const labels = { model, version };
    this.#labels = labels;
    this.#success = families.requests.cell({ ...labels, outcome: 'success', reason: '' });
    this.#items = families.inferenceCount.cell(labels);
    this.#execs = families.execCount.cell(labels);
    this.#request = families.requestDuration.cell(labels);
    this.#queue = families.queueDuration.cell(labels);
    this.#input = families.computeInput.cell(labels);
    this.#infer = families.computeInfer.cell(labels);
    this.#output = families.computeOutput.cell(labels);
    this.#batch = families.batchSize.cell(labels);
    this.#pending = families.pending.cell(labels);
    this.#busy = families.busy.cell(labels);
  }

  /**
   * Successful requests feed the duration histograms (as Triton's duration counters count only
   * successes), so a failing fast path (queue full) cannot pull the latency quantiles down.
   */
  request(outcome: RequestOutcome, items: number, totalNs: number, timings: RequestTimings | undefined, reason?: string): void {
    if (outcome === 'failure') {
      this.#failure(reason ?? 'VIREO_ERR_INTERNAL').value++;
      return;
    }
    this.#success.value++;
    this.#items.value += items;
    this.#request.observe(totalNs / NS_PER_S);
    if (timings) {
      this.#queue.observe(timings.queueNs / NS_PER_S);
      this.#input.observe(timings.computeInputNs / NS_PER_S);
      this.#infer.observe(timings.computeInferNs / NS_PER_S);
      this.#output.observe(timings.computeOutputNs / NS_PER_S);
    }
  }

  batch(timings: BatchTimings): void {
    this.#execs.value++;
    this.#batch.observe(timings.batchSize);
  }

  pending(count: number): void {
    this.#pending.value = count;
  }

  busy(count: number): void {
    this.#busy.value = count;
  }

  sequences(active: number, backlog: number): void {
    this.#cell('sequencesActive').value = active;
    this.#cell('sequenceBacklog').value = backlog;
  }

  sequenceStarted(): void {
    this.#cell('sequencesStarted').value++;
  }

  sequenceEnded(why: 'ended' | 'idle'): void {
    this.#cell('sequencesEnded', why === 'ended' ? 'end' : 'idle').value++;
  }

  /** A hit is a successful request too (as Triton's request_success counts it), with no execution. */
  cacheHit(): void {
    this.#cell('cacheHits').value++;
    this.#success.value++;
  }

  cacheMiss(): void {
    this.#cell('cacheMisses').value++;
  }

  #cell(name: 'sequencesActive' | 'sequenceBacklog' | 'sequencesStarted' | 'sequencesEnded' | 'cacheHits' | 'cacheMisses', reason?: string): ValueCell {
    const key = reason === undefined ? name : `${name}:${reason}`;
    let entry = this.#lazy.get(key);
    if (!entry) {
      const family = this.#families[name];
      entry = { family, cell: family.cell(reason === undefined ? this.#labels : { ...this.#labels, reason }) };
      this.#lazy.set(key, entry);
    }
    return entry.cell;
  }

  /** The repository finished loading this version (successfully or not). */
  loaded(seconds: number): void {
    this.#load ??= this.#families.loadDuration.cell(this.#labels);
    this.#load.value = seconds;
  }

  /** The version is gone: its series go too, so rolling versions do not grow the scrape forever. */
  unloaded(): void {
    const f = this.#families;
    f.requests.remove(this.#success);
    for (const cell of this.#failures.values()) f.requests.remove(cell);
    f.inferenceCount.remove(this.#items);
    f.execCount.remove(this.#execs);
    f.requestDuration.remove(this.#request);
    f.queueDuration.remove(this.#queue);
    f.computeInput.remove(this.#input);
    f.computeInfer.remove(this.#infer);
    f.computeOutput.remove(this.#output);
    f.batchSize.remove(this.#batch);
    f.pending.remove(this.#pending);
    f.busy.remove(this.#busy);
    if (this.#load) f.loadDuration.remove(this.#load);
    for (const { family, cell } of this.#lazy.values()) family.remove(cell);
  }

  #failure(reason: string): ValueCell {
    let cell = this.#failures.get(reason);
    if (!cell) {
      cell = this.#families.requests.cell({ ...this.#labels, outcome: 'failure', reason });
      this.#failures.set(reason, cell);
    }
    return cell;
  }
}
