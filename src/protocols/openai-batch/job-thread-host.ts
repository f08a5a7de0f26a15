/**
 * The main thread's handle of a batch job's reading thread (job-thread.ts): one thread per run of a
 * job, ended with it. Requests are answered by id; if the thread dies, everything waiting fails
 * with an internal error and so does the job run (its committed parts stay; a restart resumes).
 */
import type { PartInput } from '../../batch/input-source.js';
import type { RowResult } from '../../batch/run-rows.js';
import { spawnWorkerEntry } from '../../core/esm-bundle.js';
import { VireoError } from '../../core/errors.js';
import type { JobModelInfo, JobThreadAnswers, JobThreadReply, JobThreadRequest } from './job-thread-protocol.js';

const runningFromSource = import.meta.url.endsWith('.ts');
const THREAD_URL = new URL(runningFromSource ? './job-thread.ts' : './job-thread.js', import.meta.url);

interface Pending { resolve: (value: unknown) => void; reject: (error: VireoError) => void }

export class JobThread {
  readonly #worker = spawnWorkerEntry(THREAD_URL);
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #lost: VireoError | undefined;

  constructor() {
    this.#worker.on('message', (reply: JobThreadReply) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if ('error' in reply) pending?.reject(VireoError.from(reply.error));
      else pending?.resolve(reply.value);
    });
    const lose = (reason: string) => {
      this.#lost ??= new VireoError('VIREO_ERR_INTERNAL', `the batch job's reading thread ended: ${reason}`);
      for (const pending of this.#pending.values()) pending.reject(this.#lost);
      this.#pending.clear();
    };
    this.#worker.on('error', (error) => lose(error.message));
    this.#worker.on('exit', (code) => lose(`exit code ${code}`));
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
          requests: (start, end) => this.#ask({ type: 'requests', part: name, start, end }),
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

  async close(): Promise<void> {
    this.#lost ??= new VireoError('VIREO_ERR_INTERNAL', "the batch job's reading thread was closed");
    await this.#worker.terminate();
  }
}
