/**
 * The contract between inputs and the job: an input is read as blocks (a byte range of a text
 * file, a Parquet row group, an Arrow record batch, a run of images), and a block as parts of at most
 * `partRows` rows. Part names derive from positions only (`f<file>-b<block>-p<part>`), so every run
 * and every shard names the same rows the same way; zero-padding makes name order input order.
 *
 * A source skips the blocks its shard does not own without reading them where the format allows,
 * and reads past committed parts without building requests for them.
 */
import { stat } from 'node:fs/promises';
import { VireoError } from '../core/errors.js';
import type { PartRange } from './part-store.js';
import type { InputRows } from './run-rows.js';

export interface PartInput {
  name: string;
  range: PartRange;
  rows: InputRows;
  /** Columns carried to the output beside the results (e.g. --id-column), one value per row. */
  carried?: Map<string, unknown[]>;
  /**
   * Called once every row has its result (no `rows.requests` call follows): the source may read the
   * next parts into what this one was read into. `ids` and `carried` stay valid.
   */
  release?(): void;
}

export interface SourceOptions {
  /** Which blocks this process runs (its shard). */
  owns(fileIndex: number, block: number): boolean;
  /** Parts already committed: read past, not run. */
  committed(part: string): boolean;
  partRows: number;
}

export interface InputSource {
  /** The input as given (file path, or the folder or glob of images). */
  readonly path: string;
  readonly format: string;
  /** What identifies the input's content in job.json (paths, sizes, modification times). */
  identity(): Promise<unknown>;
  /** About how many rows the input has (exact where the format says, else from a sample of lines). */
  estimateRows(): Promise<number>;
  /** The parts to run, in input order; committed ones are skipped. */
  parts(options: SourceOptions): AsyncGenerator<PartInput>;
}

/** One input file's identity in job.json: its path, size and modification time (not its content: hashing would read it all first). */
export async function fileIdentity(path: string): Promise<unknown> {
  const info = await stat(path);
  return { path, bytes: info.size, mtimeMs: Math.trunc(info.mtimeMs) };
}

/** Digits of each number in a part's name: name order is input order only while none needs more. */
const NAME_DIGITS = { file: 5, block: 6, part: 5 } as const;

/**
 * A part's name, `f<input>-b<block>-p<part>` with fixed-width numbers, so that sorting names sorts parts
 * in input order. A number too wide for its field would break that order (p100000 sorts before
 * p99999), so it is refused, saying which option makes it smaller.
 */
export function partName(fileIndex: number, block: number, part: number): string {
  const field = (value: number, digits: number, what: string) => {
    if (value >= 10 ** digits) throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${what} (${value}) does not fit the ${digits} digits of a part's name`);
    return String(value).padStart(digits, '0');
  };
  return `f${field(fileIndex, NAME_DIGITS.file, 'more than 99,999 input files')}-b${field(block, NAME_DIGITS.block, 'an input with more than 999,999 blocks: raise --block-size')}-p${field(part, NAME_DIGITS.part, 'a block of more than 99,999 parts: raise --part-rows or lower --block-size')}`;
}
