/**
 * The main thread's handle of a batch job's reading thread (job-thread.ts): one thread per run of a
 * job, ended with it. Requests are answered by id; if the thread dies, everything waiting fails
 * with an internal error and so does the job run (its committed parts stay; a restart resumes).
 * Closing it fails everything waiting at once, so a caller never waits on a thread that is stuck.
 */
import type { PartInput } from '../../batch/input-source.js';
import type { RowResult } from '../../batch/run-rows.js';
import { spawnWorkerEntry } from '../../core/esm-bundle.js';
import { endsWithin } from '../../core/ends-within.js';
import { VireoError } from '../../core/errors.js';
import { spansFromWire, type JobModelInfo, type JobThreadAnswers, type JobThreadReply, type JobThreadRequest } from './job-thread-protocol.js';

const runningFromSource = import.meta.url.endsWith('.ts');
const THREAD_URL = new URL(runningFromSource ? './job-thread.ts' : './job-thread.js', import.meta.url);
/**
 * The thread's JavaScript heap bound (MB): it holds one part's lines and answers at a time, bounded by
 * the file size limit, so only a pathological file comes near this; past it the thread ends and the job
 * run fails (its committed parts stay) instead of the process running out of memory.
 */
const JOB_THREAD_HEAP_MB = 2048;

/**
 * How long close() waits for the terminated thread to end. One running JavaScript ends at once; one
 * waiting for a file operation on libuv's pool (a read of a FIFO, a hung network mount) ends only when
 * that operation returns, which Node cannot cut short, so nobody waits for it past this.
 */
const TERMINATE_WAIT_MS = 2_000;

interface Pending { resolve: (value: unknown) => void; reject: (error: VireoError) => void }

export class JobThread {
  // The old generation only: the young one keeps V8's default, which this thread's JSON parsing uses.
  readonly #worker = spawnWorkerEntry(THREAD_URL, { resourceLimits: { maxOldGenerationSizeMb: JOB_THREAD_HEAP_MB } });
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #lost: VireoError | undefined;
  #closed: Promise<boolean> | undefined;

  constructor() {
    this.#worker.on('message', (reply: JobThreadReply) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if ('error' in reply) pending?.reject(VireoError.from(reply.error));
      else pending?.resolve(reply.value);
    });
    const ended = (reason: string) => this.#lose(`the batch job's reading thread ended: ${reason}`);
    this.#worker.on('error', (error) => ended(error.message));
    this.#worker.on('exit', (code) => ended(`exit code ${code}`));
  }

  /** Fails every request waiting and every later one (with the first reason given). */
  #lose(reason: string): void {
    this.#lost ??= new VireoError('VIREO_ERR_INTERNAL', reason);
    for (const pending of this.#pending.values()) pending.reject(this.#lost);
    this.#pending.clear();
  }

  #ask<T extends JobThreadRequest['type']>(request: Extract<JobThreadRequest, { type: T }>): Promise<JobThreadAnswers[T]> {
    if (this.#lost) return Promise.reject(this.#lost);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#worker.postMessage({ id, request });
    });
  }

  validate(path: string, url: string, maxLines: number) {
    return this.#ask({ type: 'validate', path, url, maxLines });
  }

  /** The parts of `path` not in `committed`, in input order, read in the thread one at a time as asked for. */
  async *parts(source: { path: string; fileIndex: number; blockBytes: number }, model: JobModelInfo, committed: string[], partRows: number): AsyncGenerator<PartInput> {
    await this.#ask({ type: 'open', source, model, committed, partRows });
    for (;;) {
      const header = await this.#ask({ type: 'next-part' });
      if (!header) return;
      const name = header.name;
      yield {
        name, range: header.range,
        rows: {
          ids: header.ids,
          failed: new Map(header.failed.map(([row, error]) => [row, VireoError.from(error)])),
          requests: async (start, end) => spansFromWire(await this.#ask({ type: 'requests', part: name, start, end })),
        },
      };
    }
  }

  /**
   * A part's answers as output and error lines (batch-answers.ts, in the thread). One message for the
   * whole part: a batch's outputs are views of one buffer, which structured cloning copies once.
   */
  encode(part: string, batchId: string, results: RowResult[]) {
    return this.#ask({ type: 'encode', part, batchId, results });
  }

  /**
   * Ends the thread; every request waiting fails now, not at the thread's exit (which may come late:
   * TERMINATE_WAIT_MS). Resolves whether the thread ended within that bound. Calls after the first
   * share its outcome.
   */
  close(): Promise<boolean> {
    this.#closed ??= (() => {
      this.#lose("the batch job's reading thread was closed");
      return endsWithin(this.#worker.terminate(), TERMINATE_WAIT_MS);
    })();
    return this.#closed;
  }
}
