/**
 * The loop every batch frontend runs: parts (from an input source) → `runRows` through the facade →
 * the frontend's encoding of the results → a `PartStore` commit. `vireo batch` (batch-job.ts) and the
 * server's `/v1/batches` (protocols/openai-batch/) differ only in what they hand in here: where the
 * parts come from, how results become bytes, and when to stop.
 *
 * Overlap: the next part is read while the current one runs, and two parts run at once (the next
 * part's first batches start while this one's last batch still runs, so the instances never wait at
 * a part boundary). Commits stay one at a time, in part order.
 *
 * Stopping: `proceed()` is asked before each part starts; false ends the loop there and the parts
 * already running are committed. A rejection of `runRows` (a job-level error, or its `signal`) or of a
 * commit rejects the loop; parts not committed then run again on the next run (their names are
 * deterministic, so nothing is answered twice).
 */
import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import type { PartInput } from './input-source.js';
import type { PartContent, PartManifest, PartStore } from './part-store.js';
import { runRows, type RowResult, type RunRowsOptions } from './run-rows.js';

export interface PartRunOptions<P extends PartInput> {
  store: PartStore;
  rows: RunRowsOptions;
  /** A part's results → the files to commit (the frontend's output format). May throw (e.g. a disk limit). */
  encode(part: P, results: RowResult[]): PartContent | Promise<PartContent>;
  /** Asked before each part starts; false: start no more parts. */
  proceed?(): boolean;
  /** Called once a part's results are known, its commit under way; a throw stops the loop after that commit. */
  ran?(part: P, results: RowResult[]): void;
  /** Called after each commit, with the busy seconds of encoding and committing it. */
  committed?(part: P, manifest: PartManifest, results: RowResult[], encodeSeconds: number, commitSeconds: number): void;
  /** Seconds spent waiting for each part to be read. */
  read?(seconds: number): void;
}

/** Reads one part ahead of the consumer, so parsing the next part overlaps running this one. */
async function* prefetch<T>(source: AsyncGenerator<T>): AsyncGenerator<T> {
  let next = source.next();
  next.catch(() => undefined);
  try {
    for (;;) {
      const current = await next;
      if (current.done) return;
      next = source.next();
      next.catch(() => undefined);
      yield current.value;
    }
  } finally {
    // The consumer stopped early: let the source close its files once its pending read settles.
    await next.catch(() => undefined);
    await source.return(undefined);
  }
}

/** Runs and commits every part `parts` yields (unless `proceed` says stop). Resolves false when stopped by `proceed`. */
export async function runParts<P extends PartInput>(parts: AsyncGenerator<P>, options: PartRunOptions<P>): Promise<boolean> {
  let committing: Promise<void> = Promise.resolve();
  const commit = async (part: P, results: RowResult[]): Promise<void> => {
    const t0 = performance.now();
    const content = await options.encode(part, results);
    const t1 = performance.now();
    const manifest = await options.store.commit(part.name, content);
    options.committed?.(part, manifest, results, (t1 - t0) / 1000, (performance.now() - t1) / 1000);
  };
  let running: { part: P; results: Promise<RowResult[]> } | undefined;
  const finish = async (done: { part: P; results: Promise<RowResult[]> }): Promise<void> => {
    const results = await done.results;
    done.part.release?.();
    await committing;
    // Encoded and committed from the next turn of the event loop: the loop first starts the part read
    // ahead, whose batches keep the instances busy meanwhile (encoding is synchronous, and until the next
    // part started an instance could run out of queued batches for that long).
    committing = setImmediatePromise().then(() => commit(done.part, results));
    // Awaited at the next part's turn or at the end; until then a failed commit (an encoding that
    // throws, a disk limit, a full disk) must not count as an unhandled rejection — that ends the process.
    committing.catch(() => undefined);
    try {
      options.ran?.(done.part, results);
    } catch (error) {
      await committing;
      throw error;
    }
  };
  let complete = true;
  try {
    let readStart = performance.now();
    for await (const part of prefetch(parts)) {
      options.read?.((performance.now() - readStart) / 1000);
      if (options.proceed && !options.proceed()) {
        complete = false;
        break;
      }
      const started = { part, results: runRows(part.rows, options.rows) };
      started.results.catch(() => undefined); // awaited in finish; a failure surfaces there
      if (running) await finish(running);
      running = started;
      readStart = performance.now();
    }
    if (running) await finish(running);
    running = undefined;
    await committing;
  } finally {
    await running?.results.catch(() => undefined);
    await committing.catch(() => undefined);
  }
  return complete;
}
