/**
 * OpenAI batch objects, kept under `<batch-dir>/batches/<id>/batch.json` (the object plus nothing
 * else, so what is saved is what clients see), written whole by rename. A batch's answers are not
 * here: they are committed in parts by the batch engine's PartStore in the same folder (job.json,
 * parts/), see batch-runner.ts.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../batch/part-store.js';
import { VireoError } from '../../core/errors.js';
import type { InputError } from './batch-input.js';
import { makeDirectories } from '../../core/make-directories.js';

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

export const TERMINAL: ReadonlySet<BatchStatus> = new Set(['failed', 'completed', 'expired', 'cancelled']);

/** OpenAI's batch object. */
export interface BatchObject {
  id: string;
  object: 'batch';
  endpoint: string;
  errors: { object: 'list'; data: InputError[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
}

const BATCH_ID = /^batch_[0-9a-f]{24}$/;

export const newBatchId = (): string => `batch_${randomBytes(12).toString('hex')}`;

export function checkBatchId(id: string): string {
  if (!BATCH_ID.test(id)) throw new VireoError('VIREO_ERR_BATCH_NOT_FOUND', `no batch with id "${id.slice(0, 64)}"`);
  return id;
}

export class BatchObjects {
  readonly #dir: string;
  readonly #saving = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.#dir = join(root, 'batches');
  }

  async open(): Promise<BatchObject[]> {
    await makeDirectories(this.#dir);
    const batches: BatchObject[] = [];
    for (const name of await readdir(this.#dir)) {
      if (!BATCH_ID.test(name)) continue;
      // A state write cut by a crash leaves its temporary file beside the batch's state: never read, drop it.
      for (const file of await readdir(join(this.#dir, name))) if (file.startsWith('batch.json.tmp-')) await rm(join(this.#dir, name, file), { force: true });
      try {
        batches.push(JSON.parse(await readFile(join(this.#dir, name, 'batch.json'), 'utf8')) as BatchObject);
      } catch (error) {
        // A batch whose first state write never completed was never answered to its client.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        await rm(join(this.#dir, name), { recursive: true, force: true });
      }
    }
    return batches;
  }

  /**
   * Saves a batch's current state. Saves of one batch (the runner's, a cancel's) run one after the
   * other, each writing the state as it is at its turn, so an older state never lands last.
   */
  save(batch: BatchObject): Promise<void> {
    const previous = this.#saving.get(batch.id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(async () => {
      const dir = this.dir(batch.id);
      await makeDirectories(dir);
      await writeFileAtomic(join(dir, 'batch.json'), new TextEncoder().encode(JSON.stringify(batch)));
    });
    this.#saving.set(batch.id, next);
    void next.finally(() => {
      if (this.#saving.get(batch.id) === next) this.#saving.delete(batch.id);
    }).catch(() => undefined);
    return next;
  }

  /** The folder of a batch: batch.json, and the engine's part store (job.json, parts/). */
  dir(id: string): string {
    return join(this.#dir, checkBatchId(id));
  }
}
