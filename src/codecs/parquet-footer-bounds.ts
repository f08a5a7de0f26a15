/**
 * What a Parquet footer declares of its row groups, checked before a row group is read. A row group is
 * read whole (its column chunks' byte ranges, then decoded into a column array per leaf), so a corrupt
 * or hostile count in the footer (a chunk of 2^40 bytes, 2^40 rows) would be an allocation of that size,
 * and a legitimate row group too large for the machine would run the job out of memory partway through.
 * Here both are refused from the footer alone, before anything is allocated for them: the corrupt ones
 * when the file is opened (checkRowGroups: every row group, since each one's rows place the next one's ids),
 * the ones too large for `--max-message-bytes`, the bound an Arrow record batch has too, row group by row
 * group (checkRowGroupBound: columnar-sources.ts checks every row group a shard owns before it reads one).
 */
import type { FileMetaData, RowGroup } from 'hyparquet';
import { VireoError } from '../core/errors.js';
import { chunkRange } from './parquet-flat-columns.js';

/**
 * The least memory a decoded cell takes: a FLOAT or INT32 in a typed array (parquet-flat-columns.ts); an
 * array of JS values takes 8 bytes a slot, a Float64Array 8. How many rows a row group has cannot be
 * bounded by its bytes (a dictionary of one value and data pages of bit width 0 encode 2^31 rows a page
 * in a few dozen bytes; so does a column of nulls), so its rows are bounded by what they decode to:
 * rows × columns × this, each column being one array of a cell per row (columnar-files.ts).
 */
export const MIN_CELL_BYTES = 4;

const corrupt = (path: string, detail: string): never => {
  throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${path}: not a valid Parquet file or corrupt (${detail})`);
};

/** A count the footer declares (a thrift i32 or i64) as a number; NaN for anything else (a corrupt footer's field of another type). */
function declared(value: unknown): number {
  return typeof value === 'bigint' || typeof value === 'number' ? Number(value) : Number.NaN;
}
const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0;

/** A chunk's column as a refusal names it. */
const columnName = (path: unknown, index: number) => (Array.isArray(path) && path.every((p) => typeof p === 'string') ? `column "${path.join('.')}"` : `column ${index}`);

/**
 * The rows of each row group, once every row group's footer entry holds together (else a VireoError
 * naming the file, the row group, 0-based, and the column): its rows a count, all rows of the file
 * countable exactly (ids are row positions); every column chunk's byte range (chunkRange: from its
 * dictionary page, or its first data page, for its compressed size) between the file's leading magic and
 * its footer; and no chunk holding fewer values than the row group has rows (each row puts a value, or a
 * null, into every column: a flat column holds exactly one per row, a nested one at least one). A chunk
 * stored in another file (file_path) or without metadata is left to hyparquet, which refuses it when read.
 * Sizes within the file are not bounded here: checkRowGroupBound does, against the option.
 */
export function checkRowGroups(path: string, metadata: FileMetaData, fileBytes: number): number[] {
  // PAR1, the column chunks …, the footer, its length, PAR1.
  const dataStart = 4;
  const dataEnd = fileBytes - 8 - metadata.metadata_length;
  const rows: number[] = [];
  let total = 0;
  metadata.row_groups.forEach((group, g) => {
    const count = declared(group.num_rows);
    if (!isCount(count)) corrupt(path, `row group ${g} declares ${String(group.num_rows)} rows`);
    if (!Number.isSafeInteger(total += count)) corrupt(path, `row groups 0–${g} declare more than 2^53 rows in all`);
    rows.push(count);
    group.columns.forEach((chunk, c) => {
      const meta = chunk.meta_data;
      if (!meta || chunk.file_path) return;
      const column = columnName(meta.path_in_schema, c);
      // Where the chunk starts, as chunkRange and hyparquet read it.
      const offset = meta.dictionary_page_offset || meta.data_page_offset;
      for (const [what, raw] of [['offset', offset], ['compressed size', meta.total_compressed_size], ['uncompressed size', meta.total_uncompressed_size], ['count of values', meta.num_values]] as const) {
        if (!isCount(declared(raw))) corrupt(path, `row group ${g}, ${column}: its ${what} is ${String(raw)}`);
      }
      // The range read (the reader's own computation), its fields now known to be counts.
      const [start, end] = chunkRange(chunk);
      const values = declared(meta.num_values);
      if (start < dataStart || end > dataEnd) corrupt(path, `row group ${g}, ${column}: bytes ${start}–${end} are outside the file's column data, bytes ${dataStart}–${dataEnd}`);
      if (values < count) corrupt(path, `row group ${g} declares ${count} rows, but its ${column} holds ${values} values`);
    });
  });
  return rows;
}

/** What reading a row group takes, from its footer entry (checked first by checkRowGroups). */
export interface RowGroupSize {
  /** Bytes of the column chunks read (their compressed ranges). */
  read: number;
  /** Bytes they declare decoded (their uncompressed sizes). */
  decoded: number;
  rows: number;
  /** Column arrays made of `rows` cells each. */
  columns: number;
  /** rows × columns × MIN_CELL_BYTES: the least the decoded cells take. */
  cells: number;
}

/**
 * The size of reading row group `group`: the chunks of the top-level columns in `read` (the ones the
 * reader reads), and `columns` arrays of a cell per row (at least one: a part's row ids).
 */
export function rowGroupSize(group: RowGroup, read: ReadonlySet<string>, columns: number): RowGroupSize {
  let compressed = 0;
  let decoded = 0;
  for (const chunk of group.columns) {
    const meta = chunk.meta_data;
    if (!meta || chunk.file_path || !read.has(meta.path_in_schema[0]!)) continue;
    compressed += Number(meta.total_compressed_size);
    decoded += Number(meta.total_uncompressed_size);
  }
  const rows = Number(group.num_rows);
  const arrays = Math.max(1, columns);
  return { read: compressed, decoded, rows, columns: arrays, cells: rows * arrays * MIN_CELL_BYTES };
}

/**
 * Throws unless row group `index` fits `bound` bytes (`--max-message-bytes`): the bytes read, the bytes
 * they declare decoded, and the least its cells take, each. The refusal is one line naming the file, the
 * row group (0-based), its declared size and the bound, and what to do about it.
 */
export function checkRowGroupBound(path: string, index: number, size: RowGroupSize, bound: number): void {
  const largest = Math.max(size.read, size.decoded, size.cells);
  if (largest <= bound) return;
  // Not "corrupt": the file may well be valid, only larger than allowed.
  throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${path}: row group ${index} declares ${largest} bytes (${size.read} compressed, ${size.decoded} decoded; ${size.rows} rows × ${size.columns} columns of at least ${MIN_CELL_BYTES} bytes: ${size.cells}), more than the ${bound} bytes one Parquet row group may take, read whole (raise --max-message-bytes, or write smaller row groups: row_group_size in pyarrow and Polars)`);
}
