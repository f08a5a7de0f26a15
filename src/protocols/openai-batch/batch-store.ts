/**
 * Durable batch state under `<batch-dir>/batches/<id>/`: `batch.json` (the OpenAI batch object plus
 * what Vireo needs to resume it), written by rename so it is always whole, and `parts/`, the
 * committed answers. A part covers requests [start, end) of the input and is committed by one
 * rename of a file named after its range and counts, so the parts on disk are exactly the work
 * done: a crash before the rename loses the part (it runs again), never half of it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VireoError } from '../../core/errors.js';
import type { InputError } from './batch-input.js';

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

export interface PartInfo {
  start: number;
  end: number;
  completed: number;
  failed: number;
  file: string;
}

const BATCH_ID = /^batch_[0-9a-f]{24}$/;
const PART = /^part-(\d{9})-(\d{9})-(\d{9})-(\d{9})\.jsonl$/;
const pad = (n: number) => String(n).padStart(9, '0');

export const newBatchId = (): string => `batch_${randomBytes(12).toString('hex')}`;

export function checkBatchId(id: string): string {
  if (!BATCH_ID.test(id)) throw new VireoError('VIREO_ERR_BATCH_NOT_FOUND', `no batch with id "${id.slice(0, 64)}"`);
  return id;
}

export class BatchStore {
  readonly #dir: string;
  readonly #saving = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.#dir = join(root, 'batches');
  }

  async open(): Promise<BatchObject[]> {
    await mkdir(this.#dir, { recursive: true });
    const batches: BatchObject[] = [];
    for (const name of await readdir(this.#dir)) {
      if (!BATCH_ID.test(name)) continue;
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
      const dir = join(this.#dir, checkBatchId(batch.id));
      await mkdir(join(dir, 'parts'), { recursive: true });
      await writeFile(join(dir, 'batch.json.tmp'), JSON.stringify(batch));
      await rename(join(dir, 'batch.json.tmp'), join(dir, 'batch.json'));
    });
    this.#saving.set(batch.id, next);
    void next.finally(() => {
      if (this.#saving.get(batch.id) === next) this.#saving.delete(batch.id);
    }).catch(() => undefined);
    return next;
  }

  /** Committed parts in input order; temporary files of a part cut by a crash are removed. */
  async parts(id: string): Promise<PartInfo[]> {
    const dir = join(this.#dir, checkBatchId(id), 'parts');
    const parts: PartInfo[] = [];
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    for (const name of names) {
      const match = PART.exec(name);
      if (!match) {
        await rm(join(dir, name), { force: true });
        continue;
      }
      const [start, end, completed, failed] = match.slice(1).map(Number) as [number, number, number, number];
      parts.push({ start, end, completed, failed, file: join(dir, name) });
    }
    return parts.sort((a, b) => a.start - b.start);
  }

  /** Writes the lines of requests [start, end) and commits them with one rename. */
  async commitPart(id: string, start: number, end: number, lines: string[], completed: number, failed: number): Promise<PartInfo> {
    const dir = join(this.#dir, checkBatchId(id), 'parts');
    const file = join(dir, `part-${pad(start)}-${pad(end)}-${pad(completed)}-${pad(failed)}.jsonl`);
    await writeFile(`${file}.tmp`, lines.length === 0 ? '' : `${lines.join('\n')}\n`);
    await rename(`${file}.tmp`, file);
    return { start, end, completed, failed, file };
  }

  partsDir(id: string): string {
    return join(this.#dir, checkBatchId(id), 'parts');
  }

  async removeParts(id: string): Promise<void> {
    await rm(this.partsDir(id), { recursive: true, force: true });
  }
}
