/**
 * A batch job's counters and stage times, and the summary it ends with. Stage times are busy
 * seconds summed over the job (stages overlap, so they may add up to more than the wall time):
 * read (reading and parsing input parts), decode (building batch tensors from rows), infer (the
 * facade's answer to a batch: queueing, image/text codecs, the model), encode (part files), commit
 * (writing them durably). Parts committed by an earlier run count as resumed rows.
 */
import type { PartManifest } from './part-store.js';
import type { RunRecorder } from './run-rows.js';
import type { Shard } from './batch-job.js';

/** What progress bars, logs and metrics are told while a job runs. */
export interface BatchObserver {
  /** The job starts: about this many rows to go in this shard (resumed ones included; an estimate for text files). */
  started?(estimatedRows: number): void;
  batch?(rows: number, items: number, decodeSeconds: number, inferSeconds: number): void;
  part?(rows: number, errors: number): void;
  resumed?(rows: number, errors: number): void;
  stage?(stage: StageName, seconds: number): void;
}

export type StageName = 'read' | 'decode' | 'infer' | 'encode' | 'commit';

export interface BatchSummary {
  shard: string;
  output: string;
  outputFormat: string;
  /** Rows this run processed (not counting resumed ones). */
  rows: number;
  errors: number;
  /** Rows of parts committed by earlier runs, skipped now. */
  resumedRows: number;
  resumedErrors: number;
  parts: number;
  batches: number;
  /** Mean rows per batch. */
  meanBatchRows: number;
  seconds: number;
  rowsPerSecond: number;
  itemsPerSecond: number;
  stageSeconds: Record<StageName, number>;
  peakRssBytes: number;
}

/** Least time between two reads of the process's RSS for the peak (the summary's end reads it once more). */
const RSS_SAMPLE_MS = 100;

export class JobStats implements RunRecorder {
  readonly #observer: BatchObserver | undefined;
  readonly #started = performance.now();
  readonly #stages: Record<StageName, number> = { read: 0, decode: 0, infer: 0, encode: 0, commit: 0 };
  #rssReadAt = 0;
  rows = 0;
  errors = 0;
  items = 0;
  batches = 0;
  batchRows = 0;
  parts = 0;
  resumedRows = 0;
  resumedErrors = 0;
  peakRss = process.memoryUsage.rss();

  constructor(observer?: BatchObserver) {
    this.#observer = observer;
  }

  #stage(stage: StageName, seconds: number): void {
    this.#stages[stage] += seconds;
    this.#observer?.stage?.(stage, seconds);
  }

  batch(rows: number, items: number, decodeSeconds: number, inferSeconds: number): void {
    this.batches++;
    this.batchRows += rows;
    this.items += items;
    this.#stage('decode', decodeSeconds);
    this.#stage('infer', inferSeconds);
    this.#observer?.batch?.(rows, items, decodeSeconds, inferSeconds);
    // Sampled, not read per batch: a read is a /proc file, ≈ 1 % of a fast job's main thread per batch
    // (`tsx bench/batch-threads.ts --hidden 2048 --node-args=--cpu-prof`), and RSS moves over parts, not batches.
    const now = performance.now();
    if (now - this.#rssReadAt >= RSS_SAMPLE_MS) {
      this.#rssReadAt = now;
      const rss = process.memoryUsage.rss();
      if (rss > this.peakRss) this.peakRss = rss;
    }
  }

  read(seconds: number): void {
    this.#stage('read', seconds);
  }

  committed(rows: number, errors: number, encodeSeconds: number, commitSeconds: number): void {
    this.rows += rows;
    this.errors += errors;
    this.parts++;
    this.#stage('encode', encodeSeconds);
    this.#stage('commit', commitSeconds);
    this.#observer?.part?.(rows, errors);
  }

  resumed(manifest: PartManifest): void {
    this.resumedRows += manifest.rows;
    this.resumedErrors += manifest.errors;
    this.#observer?.resumed?.(manifest.rows, manifest.errors);
  }

  /** Errors so far, resumed ones included (what --max-errors counts). */
  get totalErrors(): number {
    return this.errors + this.resumedErrors;
  }

  summary(context: { shard: Shard; outputFormat: string; output: string }): BatchSummary {
    const seconds = (performance.now() - this.#started) / 1000;
    const round = (n: number) => Math.round(n * 1000) / 1000;
    return {
      shard: `${context.shard.index}/${context.shard.count}`,
      output: context.output,
      outputFormat: context.outputFormat,
      rows: this.rows,
      errors: this.errors,
      resumedRows: this.resumedRows,
      resumedErrors: this.resumedErrors,
      parts: this.parts,
      batches: this.batches,
      meanBatchRows: this.batches === 0 ? 0 : round(this.batchRows / this.batches),
      seconds: round(seconds),
      rowsPerSecond: round(this.rows / seconds),
      itemsPerSecond: round(this.items / seconds),
      stageSeconds: Object.fromEntries(Object.entries(this.#stages).map(([k, v]) => [k, round(v)])) as Record<StageName, number>,
      peakRssBytes: Math.max(this.peakRss, process.memoryUsage.rss()),
    };
  }
}
