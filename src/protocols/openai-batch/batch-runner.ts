/**
 * Runs batch jobs, one at a time in submission order, through the facade at background priority
 * (scheduler/: behind every level real-time requests use), so a job fills idle capacity and yields
 * to real-time traffic. A job moves validating → in_progress → finalizing → completed (or failed,
 * cancelled, expired) and its state is saved at every move; its answers are committed in parts
 * (batch-store.ts). After a stop of any kind, `start` resumes every unfinished job from its last
 * committed part, so every request is answered exactly once.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { VireoError } from '../../core/errors.js';
import type { Logger } from '../../logging/logger.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { derivedFileId, nowSeconds, type BatchFiles } from './batch-files.js';
import { parseEndpoint, readLines, validateInput, type InputError, type InputLine } from './batch-input.js';
import { answerLine, type RequestAnswer } from './batch-request.js';
import { TERMINAL, type BatchObject, type BatchStatus, type BatchStore, type PartInfo } from './batch-store.js';

export interface RunnerOptions {
  server: InferenceServer;
  files: BatchFiles;
  store: BatchStore;
  logger: Logger;
  /** Requests committed together; a cancel or a stop takes effect at the next part. */
  partRequests: number;
  /** Lines per input file (OpenAI allows 50,000). */
  maxLines: number;
}

/** A stop interrupted the part being run: it is not committed and runs again on the next start. */
class Interrupted extends Error {}

export class BatchRunner {
  readonly #o: RunnerOptions;
  readonly #batches = new Map<string, BatchObject>();
  readonly #queue: string[] = [];
  #running: Promise<void> | undefined;
  #closing = false;
  /** Requests answered and failed in this process (Prometheus counters). */
  completed = 0;
  failed = 0;

  constructor(options: RunnerOptions) {
    this.#o = options;
  }

  /** Loads the saved jobs and queues every unfinished one, oldest first. */
  async start(): Promise<void> {
    const batches = await this.#o.store.open();
    for (const batch of batches.sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1))) {
      this.#batches.set(batch.id, batch);
      if (!TERMINAL.has(batch.status)) this.#queue.push(batch.id);
    }
    if (this.#queue.length > 0) this.#o.logger.info({ batches: this.#queue.length }, 'batch jobs resume');
    this.#kick();
  }

  get(id: string): BatchObject | undefined {
    return this.#batches.get(id);
  }

  /** Newest first. */
  list(): BatchObject[] {
    return [...this.#batches.values()].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1));
  }

  /** Jobs not yet in a final state. */
  get active(): number {
    let n = 0;
    for (const batch of this.#batches.values()) if (!TERMINAL.has(batch.status)) n++;
    return n;
  }

  countByStatus(): Map<BatchStatus, number> {
    const counts = new Map<BatchStatus, number>();
    for (const batch of this.#batches.values()) counts.set(batch.status, (counts.get(batch.status) ?? 0) + 1);
    return counts;
  }

  /** A batch may only name a model the repository has (it may still be loading). */
  checkModel(model: string): void {
    if (!this.#o.server.repository.has(model)) throw new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `unknown model "${model.slice(0, 200)}"`);
  }

  /** Whether an input file is read by a job that has not finished. */
  reads(fileId: string): boolean {
    for (const batch of this.#batches.values()) if (batch.input_file_id === fileId && !TERMINAL.has(batch.status)) return true;
    return false;
  }

  async submit(batch: BatchObject): Promise<void> {
    await this.#o.store.save(batch);
    this.#batches.set(batch.id, batch);
    this.#queue.push(batch.id);
    this.#kick();
  }

  /** OpenAI's cancel: `cancelling` now, `cancelled` once the part running is committed. */
  async cancel(batch: BatchObject): Promise<BatchObject> {
    if (batch.status !== 'validating' && batch.status !== 'in_progress') return structuredClone(batch);
    const saved = this.#move(batch, 'cancelling', { cancelling_at: nowSeconds() });
    // The answer is the state the cancel made; the runner may move on (finalizing) while it is saved.
    const answer = structuredClone(batch);
    await saved;
    return answer;
  }

  /** Stops after the requests running now; the part they belong to runs again after a restart. */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#running;
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
      const batch = this.#batches.get(this.#queue[0]!)!;
      try {
        await this.#run(batch);
      } catch (error) {
        if (error instanceof Interrupted) return;
        this.#o.logger.error({ err: error, batch: batch.id }, 'batch job failed');
        await this.#fail(batch, 'internal_error', `the job failed: ${(error as Error).message}`).catch(() => undefined);
      }
      this.#queue.shift();
    }
  }

  async #run(batch: BatchObject): Promise<void> {
    if (batch.status === 'validating') {
      const input = this.#o.files.dataPath(batch.input_file_id);
      const { total, errors } = await validateInput(input, batch.endpoint, this.#o.maxLines);
      if (batch.status !== 'validating') return this.#finish(batch); // cancelled meanwhile
      if (errors.length > 0) return this.#fail(batch, undefined, undefined, errors);
      await this.#move(batch, 'in_progress', { in_progress_at: nowSeconds(), request_counts: { total, completed: 0, failed: 0 } });
    }
    if (batch.status === 'in_progress') await this.#runParts(batch);
    await this.#finish(batch);
  }

  async #runParts(batch: BatchObject): Promise<void> {
    const parts = await this.#o.store.parts(batch.id);
    let done = parts.reduce((n, p) => Math.max(n, p.end), 0);
    batch.request_counts.completed = parts.reduce((n, p) => n + p.completed, 0);
    batch.request_counts.failed = parts.reduce((n, p) => n + p.failed, 0);
    const endpoint = parseEndpoint(batch.endpoint);
    let part: InputLine[] = [];
    const lines = readLines(this.#o.files.dataPath(batch.input_file_id), batch.endpoint, done);
    for (let next = await lines.next(); ; next = await lines.next()) {
      if (!next.done) part.push(next.value);
      if (part.length < this.#o.partRequests && !next.done) continue;
      if (part.length > 0) {
        if (this.#closing) throw new Interrupted();
        if (batch.status !== 'in_progress' || nowSeconds() >= batch.expires_at) break;
        const answers = await this.#runPart(batch, endpoint, part);
        const committed = await this.#commit(batch, done, done + part.length, answers);
        done = committed.end;
        part = [];
      }
      if (next.done) break;
    }
    await lines.return(undefined);
  }

  /** Runs one part's requests, up to a window of them at a time (enough to fill the model's batches). */
  async #runPart(batch: BatchObject, endpoint: { model: string; version?: string }, part: InputLine[]): Promise<RequestAnswer[]> {
    const window = this.#window(endpoint.model, endpoint.version);
    const answers: RequestAnswer[] = new Array(part.length);
    let next = 0;
    const worker = async () => {
      while (next < part.length) {
        // A stop takes no new request; the part is then redone after the restart.
        if (this.#closing) return;
        const i = next++;
        answers[i] = await answerLine(this.#o.server, batch.id, endpoint, part[i]!, () => this.#closing);
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, part.length) }, worker));
    if (next < part.length || answers.some((a) => a.interrupted)) throw new Interrupted();
    return answers;
  }

  #window(model: string, version?: string): number {
    try {
      const config = this.#o.server.modelConfig(model, version);
      const instances = config.instance_group.reduce((n, g) => n + g.count, 0);
      return Math.max(4, Math.max(1, config.max_batch_size) * Math.max(1, instances));
    } catch {
      return 4; // not loaded: every request will answer the model's error anyway
    }
  }

  async #commit(batch: BatchObject, start: number, end: number, answers: RequestAnswer[]): Promise<PartInfo> {
    const lines = answers.map((a) => (a.ok ? 'o' : 'e') + a.line);
    const completed = answers.filter((a) => a.ok).length;
    const failed = answers.length - completed;
    this.#o.files.reserve(lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0));
    const part = await this.#o.store.commitPart(batch.id, start, end, lines, completed, failed);
    batch.request_counts.completed += completed;
    batch.request_counts.failed += failed;
    this.completed += completed;
    this.failed += failed;
    await this.#o.store.save(batch);
    return part;
  }

  /** Ends a job that has stopped running: cancelled, expired or complete, with its output files. */
  async #finish(batch: BatchObject): Promise<void> {
    if (TERMINAL.has(batch.status)) return;
    const expired = batch.status !== 'cancelling' && nowSeconds() >= batch.expires_at;
    if (batch.status !== 'finalizing') await this.#move(batch, 'finalizing', { finalizing_at: nowSeconds() });
    const expiredLines = expired ? await this.#unfinished(batch) : [];
    const { output, error } = await this.#writeOutputs(batch, expiredLines);
    batch.output_file_id = output;
    batch.error_file_id = error;
    if (expired) batch.request_counts.failed += expiredLines.length;
    const now = nowSeconds();
    if (batch.cancelling_at !== null) await this.#move(batch, 'cancelled', { cancelled_at: now });
    else if (expired) await this.#move(batch, 'expired', { expired_at: now });
    else await this.#move(batch, 'completed', { completed_at: now });
    await this.#o.store.removeParts(batch.id);
  }

  /** OpenAI lists requests a job could not run before it expired in the error file. */
  async #unfinished(batch: BatchObject): Promise<string[]> {
    const parts = await this.#o.store.parts(batch.id);
    const done = parts.reduce((n, p) => Math.max(n, p.end), 0);
    const lines: string[] = [];
    try {
      for await (const line of readLines(this.#o.files.dataPath(batch.input_file_id), batch.endpoint, done)) {
        lines.push(JSON.stringify({
          id: `batch_req_${batch.id.slice(6)}_${line.line}`, custom_id: line.customId, response: null,
          error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
        }));
      }
    } catch {
      // The input is gone (deleted after the job failed to read it): nothing more to list.
    }
    return lines;
  }

  /** Joins the committed parts into the output and error files (ids derived from the batch's). */
  async #writeOutputs(batch: BatchObject, extraErrors: string[]): Promise<{ output: string | null; error: string | null }> {
    const parts = await this.#o.store.parts(batch.id);
    const dir = this.#o.store.partsDir(batch.id);
    const outPath = join(dir, 'output.tmp');
    const errPath = join(dir, 'errors.tmp');
    const out = createWriteStream(outPath);
    const err = createWriteStream(errPath);
    let outLines = 0;
    let errLines = 0;
    for (const part of parts) {
      for await (const line of createInterface({ input: createReadStream(part.file), crlfDelay: Infinity })) {
        if (line === '') continue;
        const target = line[0] === 'o' ? out : err;
        if (line[0] === 'o') outLines++;
        else errLines++;
        if (!target.write(`${line.slice(1)}\n`)) await new Promise<void>((resolve) => target.once('drain', () => resolve()));
      }
    }
    for (const line of extraErrors) {
      errLines++;
      if (!err.write(`${line}\n`)) await new Promise<void>((resolve) => err.once('drain', () => resolve()));
    }
    await Promise.all([new Promise<void>((resolve) => out.end(() => resolve())), new Promise<void>((resolve) => err.end(() => resolve()))]);
    const files = this.#o.files;
    const extraBytes = extraErrors.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    if (extraBytes > 0) files.reserve(extraBytes);
    const output = outLines > 0 ? (await files.adopt(derivedFileId(batch.id, 'output'), outPath, `${batch.id}_output.jsonl`, 'batch_output')).id : null;
    const error = errLines > 0 ? (await files.adopt(derivedFileId(batch.id, 'error'), errPath, `${batch.id}_error.jsonl`, 'batch_output')).id : null;
    // The parts' bytes live on in the output files, less the one-byte marker of each line; the
    // parts themselves are removed once the batch is saved as finished.
    files.release(outLines + errLines);
    return { output, error };
  }

  async #fail(batch: BatchObject, code?: string, message?: string, errors: InputError[] = code ? [{ code, message: message!, line: null, param: null }] : []): Promise<void> {
    batch.errors = { object: 'list', data: errors };
    await this.#move(batch, 'failed', { failed_at: nowSeconds() });
  }

  async #move(batch: BatchObject, status: BatchStatus, changes: Partial<BatchObject>): Promise<void> {
    Object.assign(batch, changes, { status });
    await this.#o.store.save(batch);
    this.#o.logger.info({ batch: batch.id, status, counts: batch.request_counts }, 'batch job');
  }
}
