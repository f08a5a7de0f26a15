/**
 * Runs batch jobs, one at a time in submission order, on the batch engine of `vireo batch`
 * (src/batch/): the input is read by its JSONL reader (`jsonlParts`) on the job's own low-priority
 * thread (job-thread.ts, which also validates the input and encodes the answers), the rows run through its part
 * loop (`runParts` → `runRows`, full batches through the facade) at the scheduler's background level
 * (behind every level real-time requests use, so a job fills idle capacity and yields to real-time
 * traffic), and progress is committed by its PartStore (atomic parts, manifests of the input ranges
 * covered) in the batch's folder. What is OpenAI's stays here: the batch object and its states
 * (validating → in_progress → finalizing → completed; failed, cancelled, expired), saved at every
 * move, and the output lines (batch-answers.ts). After a stop of any kind, `start` resumes every
 * unfinished job after its committed parts, so every request is answered exactly once.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { inBackground, retryingTransient } from '../../batch/facade-wrappers.js';
import { runParts } from '../../batch/part-runner.js';
import { PartStore } from '../../batch/part-store.js';
import { jsonlParts, type JsonlPart } from '../../batch/text-sources.js';
import { TimeSlicer } from '../../batch/time-slicer.js';
import { endsWithin } from '../../core/ends-within.js';
import { VireoError } from '../../core/errors.js';
import type { Logger } from '../../logging/logger.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { batchModel, expiredLine, type BatchModel } from './batch-answers.js';
import { checkJobModel, loadJobModel } from './job-model.js';
import { nowSeconds, type BatchFiles } from './batch-files.js';
import { writeBatchOutputs } from './batch-outputs.js';
import { parseEndpoint, type InputError } from './batch-input.js';
import { JobThread } from './job-thread-host.js';
import { TERMINAL, type BatchObject, type BatchObjects, type BatchStatus } from './batch-objects.js';
import { BatchTable } from './batch-table.js';

export interface RunnerOptions {
  server: InferenceServer;
  files: BatchFiles;
  objects: BatchObjects;
  logger: Logger;
  /** Requests committed together; a cancel or a stop takes effect at the next part. */
  partRequests: number;
  /** Lines per input file (OpenAI allows 50,000). */
  maxLines: number;
  /** How long close() lets the running job stop by itself before it closes the job's thread (default STOP_WAIT_MS). */
  stopWaitMs?: number;
}

/** Once a job has its output files, the answers live on there: its parts and the part store's identity go. */
async function dropParts(store: PartStore): Promise<void> {
  await rm(store.partsDir, { recursive: true, force: true });
  await rm(join(store.dir, 'job.json'), { force: true });
}

/** A stop interrupted the part being run: it is not committed and runs again on the next start. */
class Interrupted extends Error {}

/** close()'s wait for the running job to stop by itself: its rows in flight answered, its thread's answers in. */
export const STOP_WAIT_MS = 5_000;

/** Bytes per block of the input (the engine's unit of reading; parts never span two). */
const BLOCK_BYTES = 64 * 1024 * 1024;
/** Longest stretch of the expiry listing's synchronous work on the main thread before waiting I/O may run. */
const MAIN_THREAD_SLICE_MS = 0.2;
/** A model that is reloading is back within this long, or its rows fail with the model's error. */
const TRANSIENT_RETRY_MS = 30_000;

export class BatchRunner {
  readonly #o: RunnerOptions;
  /** Every job kept, any status (what the routes and metrics read). */
  readonly table = new BatchTable();
  readonly #queue: string[] = [];
  #running: Promise<void> | undefined;
  #closing = false;
  /** The thread of the job running now; close() ends it when the job does not stop in time. */
  #thread: JobThread | undefined;
  /** Aborted by close(): the rows in flight are answered, no new batch starts, the part is not committed. */
  readonly #stop = new AbortController();
  /** Requests answered and failed in this process (Prometheus counters). */
  completed = 0;
  failed = 0;

  constructor(options: RunnerOptions) {
    this.#o = options;
  }

  /** Loads the saved jobs and queues every unfinished one, oldest first. */
  async start(): Promise<void> {
    const batches = await this.#o.objects.open();
    for (const batch of batches.sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1))) {
      this.table.set(batch);
      if (!TERMINAL.has(batch.status)) this.#queue.push(batch.id);
    }
    if (this.#queue.length > 0) this.#o.logger.info({ batches: this.#queue.length }, 'batch jobs resume');
    this.#kick();
  }

  /**
   * A batch may only name a model the repository has loaded (or is loading), or, on a server that loads
   * models on demand (`--model-memory-budget`), one it has on disk: the job loads it when it runs (job-model.ts).
   */
  checkModel(model: string): Promise<void> {
    return checkJobModel(this.#o.server, model);
  }

  /**
   * Takes a new job unless `maxJobs` are in flight. The count and the job's place are taken before the
   * first await, so creates arriving together cannot pass the bound between check and save.
   */
  async submit(batch: BatchObject, maxJobs: number): Promise<void> {
    if (this.table.active >= maxJobs) {
      throw new VireoError('VIREO_ERR_BATCH_LIMIT', `${maxJobs} batches are already in flight (--batch-max-jobs); retry once one has finished`);
    }
    this.table.set(batch);
    try {
      await this.#o.objects.save(batch);
    } catch (error) {
      this.table.delete(batch.id);
      throw error;
    }
    this.#queue.push(batch.id);
    this.#kick();
  }

  /** OpenAI's cancel: `cancelling` now, `cancelled` once the part running is committed. */
  async cancel(batch: BatchObject): Promise<BatchObject> {
    if (batch.status !== 'validating' && batch.status !== 'in_progress') return structuredClone(batch);
    const saved = this.#move(batch, 'cancelling', { cancelling_at: nowSeconds() });
    // The answer is the state the cancel made; the runner may move on (cancelled) while it is saved.
    const answer = structuredClone(batch);
    await saved;
    return answer;
  }

  /**
   * Stops after the requests running now; the part they belong to runs again after a restart. A job
   * still running after stopWaitMs waits on its thread (stuck reading its input, say): closing the
   * thread fails what waits on it, which a closing runner takes as an interruption, not a job failure.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#stop.abort();
    const running = this.#running;
    const waitMs = this.#o.stopWaitMs ?? STOP_WAIT_MS;
    if (!running || await endsWithin(running, waitMs)) return;
    // threadEnded false: stuck in a file operation, the thread ends when that returns (job-thread-host.ts).
    const threadEnded = await this.#thread?.close();
    this.#o.logger.warn({ batch: this.#queue[0], waitedMs: waitMs, threadEnded }, 'batch job did not stop in time: its thread was closed');
    // Nothing waits on the thread now; rows in flight are the server's drain's to bound.
    await running;
  }

  #kick(): void {
    if (this.#running || this.#closing || this.#queue.length === 0) return;
    // Cleared once the loop has ended (never synchronously inside it), then looked at again.
    this.#running = this.#drainQueue().finally(() => {
      this.#running = undefined;
      this.#kick();
    });
  }

  async #drainQueue(): Promise<void> {
    while (!this.#closing && this.#queue.length > 0) {
      const batch = this.table.get(this.#queue[0]!)!;
      try {
        await this.#run(batch);
      } catch (error) {
        // Any error while closing may be of the stop itself (a thread closed by close()): the job resumes on the next start.
        if (error instanceof Interrupted || this.#closing) return;
        this.#o.logger.error({ err: error, batch: batch.id }, 'batch job failed');
        await this.#failRunning(batch, error).catch((failure: unknown) => this.#o.logger.error({ err: failure, batch: batch.id }, 'failed batch job not saved'));
      }
      this.#queue.shift();
    }
  }

  async #run(batch: BatchObject): Promise<void> {
    // The job's per-line work runs on a thread of its own at the lowest CPU priority (job-thread.ts).
    const thread = this.#thread = new JobThread();
    try {
      if (batch.status === 'validating') {
        const input = this.#o.files.dataPath(batch.input_file_id);
        const { total, errors } = await thread.validate(input, batch.endpoint, this.#o.maxLines);
        if (batch.status !== 'validating') return await this.#finish(batch); // cancelled meanwhile
        if (errors.length > 0) return await this.#fail(batch, undefined, undefined, errors);
        await this.#move(batch, 'in_progress', { in_progress_at: nowSeconds(), request_counts: { total, completed: 0, failed: 0 } });
      }
      if (batch.status === 'in_progress') await this.#runParts(batch, thread);
    } finally {
      this.#thread = undefined;
      await thread.close();
    }
    await this.#finish(batch);
  }

  /** The engine's part store of a batch; the part size its first run fixed stays (a restart may pass another). */
  async #parts(batch: BatchObject): Promise<{ store: PartStore; partRows: number }> {
    const dir = this.#o.objects.dir(batch.id);
    const fixed = await PartStore.identityOf(dir) as { partRows?: unknown } | undefined;
    const partRows = typeof fixed?.partRows === 'number' ? fixed.partRows : this.#o.partRequests;
    const identity = { input_file_id: batch.input_file_id, endpoint: batch.endpoint, partRows, blockBytes: BLOCK_BYTES };
    return { store: await PartStore.open(dir, identity), partRows };
  }

  /** Parsed lines of the parts not committed yet, in input order (the engine's JSONL reader). */
  #lines(batch: BatchObject, store: PartStore, partRows: number, model: BatchModel, slicer?: TimeSlicer): AsyncGenerator<JsonlPart> {
    const source = { path: this.#o.files.dataPath(batch.input_file_id), fileIndex: 0, blockBytes: BLOCK_BYTES };
    return jsonlParts(source, model.jsonl, { owns: () => true, committed: (part) => store.isCommitted(part), partRows }, slicer);
  }


  async #runParts(batch: BatchObject, thread: JobThread): Promise<void> {
    const { store, partRows } = await this.#parts(batch);
    const committed = store.committed();
    batch.request_counts.completed = committed.reduce((n, m) => n + m.rows - m.errors, 0);
    batch.request_counts.failed = committed.reduce((n, m) => n + m.errors, 0);
    const endpoint = parseEndpoint(batch.endpoint);
    await loadJobModel(this.#o.server, endpoint.model, TRANSIENT_RETRY_MS, this.#stop.signal);
    const model = batchModel(this.#o.server, endpoint);
    const source = { path: this.#o.files.dataPath(batch.input_file_id), fileIndex: 0, blockBytes: BLOCK_BYTES };
    const info = { model: endpoint.model, version: endpoint.version, config: model.config, unavailable: model.unavailable, batchSize: model.batchSize };
    const signal = this.#stop.signal;
    // Background priority, and "not now" refusals waited out (a window shared by the whole job).
    const server = retryingTransient(inBackground(this.#o.server), { windowMs: TRANSIENT_RETRY_MS, signal });
    let saving: Promise<void> = Promise.resolve();
    try {
      await runParts(thread.parts(source, info, committed.map((m) => m.part), partRows), {
        store,
        rows: {
          server, batchSize: model.batchSize, maxInflight: model.maxInflight, signal,
          // Every request gets its own answer, as over REST: a model error fails the rows it hit, not the job.
          failRowsOn: (error) => error.code !== 'VIREO_ERR_SERVER_SHUTTING_DOWN',
        },
        // A cancel or the completion window takes effect between parts.
        proceed: () => !this.#closing && batch.status === 'in_progress' && nowSeconds() < batch.expires_at,
        encode: async (part, results) => {
          const answered = await thread.encode(part.name, batch.id, results);
          this.#o.files.reserve(answered.output.byteLength + answered.errors.byteLength);
          return { results: { extension: 'jsonl', bytes: answered.output }, errors: answered.errors, ranges: [part.range], rows: results.length, errors_count: answered.failed };
        },
        committed: (_part, manifest) => {
          const completed = manifest.rows - manifest.errors;
          batch.request_counts.completed += completed;
          batch.request_counts.failed += manifest.errors;
          this.completed += completed;
          this.failed += manifest.errors;
          // Counts are saved for clients to poll (saves of a batch run in order: the last one is awaited
          // below); after a crash they are recounted from the manifests.
          saving = this.#o.objects.save(batch).catch((error: unknown) => this.#o.logger.warn({ err: error, batch: batch.id }, 'batch state not saved'));
        },
      });
    } catch (error) {
      // A stop (ours, or the server's seen first): the parts not committed run again after the restart.
      if (this.#closing || VireoError.from(error).code === 'VIREO_ERR_SERVER_SHUTTING_DOWN') throw new Interrupted();
      throw error;
    } finally {
      await saving;
    }
    if (this.#closing) throw new Interrupted();
  }

  /** Ends a job that has stopped running: cancelled, expired or complete, with its output files. */
  async #finish(batch: BatchObject): Promise<void> {
    if (TERMINAL.has(batch.status)) return;
    const expired = batch.status !== 'cancelling' && nowSeconds() >= batch.expires_at;
    // A cancel goes cancelling → cancelled, as OpenAI's does; only a job that ran out finalizes.
    if (batch.status !== 'finalizing' && batch.status !== 'cancelling') await this.#move(batch, 'finalizing', { finalizing_at: nowSeconds() });
    const { store, partRows } = await this.#parts(batch);
    const expiredLines = expired ? await this.#unfinished(batch, store, partRows) : [];
    const { output, error } = await writeBatchOutputs(this.#o.files, batch, store, expiredLines);
    batch.output_file_id = output;
    batch.error_file_id = error;
    if (expired) batch.request_counts.failed += expiredLines.length;
    const now = nowSeconds();
    if (batch.cancelling_at !== null) await this.#move(batch, 'cancelled', { cancelled_at: now });
    else if (expired) await this.#move(batch, 'expired', { expired_at: now });
    else await this.#move(batch, 'completed', { completed_at: now });
    await dropParts(store);
  }

  /** The requests of the parts not committed, as expired lines (read by the same reader as a run). */
  async #unfinished(batch: BatchObject, store: PartStore, partRows: number): Promise<string[]> {
    const lines: string[] = [];
    try {
      const model = batchModel(this.#o.server, parseEndpoint(batch.endpoint));
      for await (const part of this.#lines(batch, store, partRows, model, new TimeSlicer(MAIN_THREAD_SLICE_MS))) for (const line of part.lines) lines.push(expiredLine(batch.id, line));
    } catch {
      // The input is gone (deleted after the job failed to read it): nothing more to list.
    }
    return lines;
  }

  /**
   * A job that failed while it ran (a storage limit, a disk error, a bug): what it committed is
   * delivered in its output and error files, as a cancel delivers it, and its parts' space is the
   * files' from then on. A failure before it ran has nothing to deliver.
   */
  async #failRunning(batch: BatchObject, error: unknown): Promise<void> {
    const e = error instanceof VireoError ? error : undefined;
    const code = e ? e.code.slice('VIREO_ERR_'.length).toLowerCase() : 'internal_error';
    const message = `the job failed: ${(error as Error).message}`;
    if (batch.status === 'in_progress' || batch.status === 'cancelling' || batch.status === 'finalizing') {
      const { store } = await this.#parts(batch);
      try {
        const { output, error: errorFile } = await writeBatchOutputs(this.#o.files, batch, store, []);
        batch.output_file_id = output;
        batch.error_file_id = errorFile;
      } catch (failure) {
        // Not even the output could be written (the disk itself failing): the answers are lost with the
        // parts; the storage count is redone from the disk at the next start.
        this.#o.logger.error({ err: failure, batch: batch.id }, 'answers of a failed batch job could not be delivered');
      }
      await this.#fail(batch, code, message);
      await dropParts(store);
      return;
    }
    await this.#fail(batch, code, message);
  }

  async #fail(batch: BatchObject, code?: string, message?: string, errors: InputError[] = code ? [{ code, message: message!, line: null, param: null }] : []): Promise<void> {
    batch.errors = { object: 'list', data: errors };
    await this.#move(batch, 'failed', { failed_at: nowSeconds() });
  }

  async #move(batch: BatchObject, status: BatchStatus, changes: Partial<BatchObject>): Promise<void> {
    Object.assign(batch, changes, { status });
    await this.#o.objects.save(batch);
    this.#o.logger.info({ batch: batch.id, status, counts: batch.request_counts }, 'batch job');
  }
}
