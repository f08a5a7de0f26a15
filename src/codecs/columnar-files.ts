/**
 * Columnar files for batch jobs: Parquet through hyparquet with hyparquet-compressors (snappy, zstd,
 * gzip, brotli and lz4 pages), reading one row group at a time by byte ranges of the file, so memory
 * is one row group whatever the file size (one held to --max-message-bytes from the footer before it is
 * read: parquet-footer-bounds.ts), and hyparquet-writer; Arrow IPC files are read by
 * arrow-batch-reader.ts. Columns come out as value arrays, the shape dataframe-codec.ts's Table takes,
 * and the columns of one FP32/FP64 input as one row-major array (ParquetReadOptions.rowMajor).
 *
 * Measured before choosing (`tsx bench/parquet-readers.ts`, README "Batch pipelines"): parquet-wasm
 * reads faster, but its WebAssembly build adds 5 MB to every image (issue 18's size target) for a
 * stage that is a few per cent of a job's CPU; hyparquet without the compressors package refused
 * every codec but snappy (Polars writes zstd by default).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import { tableToIPC, Table as ArrowTable, vectorFromArray, makeData, makeVector, Float32, Float64, Int32, Int64, Bool, Utf8, List, FixedSizeList, Field } from 'apache-arrow';
import { parquetMetadataAsync, parquetRead, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { VireoError } from '../core/errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './read-bounds.js';
import type { RowMajorColumns } from './dataframe-codec.js';
import { chunkRange, flatNumericColumns, readFlatColumns } from './parquet-flat-columns.js';
import { listNumericColumns, readListColumns } from './parquet-list-columns.js';
import { checkRowGroupBound, checkRowGroups, MIN_CELL_BYTES, rowGroupSize } from './parquet-footer-bounds.js';
import { boundedCompressors } from './parquet-bounded-decompressors.js';
import { checkChunkPages, pageColumn } from './parquet-page-check.js';
import { turnsOf } from './parquet-read-turns.js';
import { topLevelColumns } from './parquet-top-columns.js';
import { fittingSpecs, type FloatArrays, type RowMajorSpec } from './row-major-layout.js';

export interface ColumnChunk {
  /**
   * Cells by column. A numeric Arrow column without nulls is its typed array (no JS value per cell;
   * read by index, `length` and `slice` only, as arrays are), anything else an array of JS values.
   */
  columns: Map<string, unknown[]>;
  rows: number;
  /** More columns, row by row (a Parquet row group's, see ParquetReadOptions.rowMajor); not in `columns`. */
  rowMajor?: readonly RowMajorColumns[];
}

const unreadable = (path: string, error: unknown): never => {
  if (error instanceof VireoError) throw error;
  // A reader's own failure on corrupt bytes (a TypeError deep in its decoding) says what, not where: say both.
  const what = error instanceof TypeError || error instanceof RangeError ? 'not a valid Parquet file or corrupt' : 'cannot be read';
  throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${path}: ${what} (${(error as Error).message ?? String(error)})`);
};

export interface ParquetFile {
  rowGroups: number;
  /** Rows before each row group (its first row's position in the file). */
  firstRows: number[];
  rowGroupRows: number[];
  /**
   * Throws (VIREO_ERR_BATCH_INPUT_INVALID) unless the row group fits `maxMessageBytes`, from the footer
   * alone, nothing read (parquet-footer-bounds.ts). `read` checks it first too; a caller checks every row
   * group it will read before the first, so a file it cannot read is refused before any of its rows runs.
   */
  checkBound(rowGroup: number): void;
  read(rowGroup: number): Promise<ColumnChunk>;
}

export interface ParquetReadOptions {
  /**
   * Bytes one row group may take, read whole: its column chunks' compressed bytes, the bytes they declare
   * decoded, and its rows × columns at 4 bytes a cell, each (`--max-message-bytes`). Default DEFAULT_MAX_MESSAGE_BYTES.
   */
  maxMessageBytes?: number;
  /**
   * Column lists (each one FP32/FP64 input's `columns`, in order) to decode straight into one row-major
   * array each, as ColumnChunk.rowMajor, in a row group where each of the list's columns takes
   * parquet-flat-columns.ts's path; elsewhere, and for a list that does not fit the file (fittingSpecs),
   * its columns come in `columns` as any other.
   */
  rowMajor?: readonly RowMajorSpec[];
  /** Where those arrays are taken from: the caller gives a chunk's back once its rows have run. Default: new ones. */
  arrays?: FloatArrays;
}

/**
 * hyparquet's AsyncBuffer over one open file: a slice is one read into a buffer of its own, checked
 * against the file's size before anything is allocated. (hyparquet's asyncBufferFromFile opens a read
 * stream per slice — per column chunk, 256 opens a row group of 256 columns — and copies its chunks
 * together.)
 */
function fileSlices(handle: FileHandle, byteLength: number): AsyncBuffer {
  return {
    byteLength,
    async slice(start: number, end = byteLength): Promise<ArrayBuffer> {
      if (!(start >= 0 && start <= end && end <= byteLength)) throw new Error(`bytes ${start}–${end} are outside the file (${byteLength} bytes)`);
      const bytes = new Uint8Array(end - start);
      for (let done = 0; done < bytes.length;) {
        const { bytesRead } = await handle.read(bytes, done, bytes.length - done, start + done);
        if (bytesRead === 0) throw new Error(`the file ended at byte ${start + done} (it changed while read?)`);
        done += bytesRead;
      }
      return bytes.buffer;
    },
  };
}

/** Runs `use` with the file open for reading through fileSlices. */
async function withFile<T>(path: string, use: (file: AsyncBuffer) => Promise<T>): Promise<T> {
  const handle = await open(path, 'r');
  try {
    return await use(fileSlices(handle, (await handle.stat()).size));
  } finally {
    await handle.close();
  }
}

export async function openParquet(path: string, options: ParquetReadOptions = {}): Promise<ParquetFile> {
  let metadata: FileMetaData;
  let rowGroupRows: number[];
  try {
    // The footer's counts and ranges are checked before any is used (ids, allocations, reads).
    [metadata, rowGroupRows] = await withFile(path, async (file) => {
      const footer = await parquetMetadataAsync(file);
      return [footer, checkRowGroups(path, footer, file.byteLength)] as const;
    });
  } catch (error) {
    return unreadable(path, error);
  }
  const firstRows: number[] = [];
  rowGroupRows.reduce((sum, n) => (firstRows.push(sum), sum + n), 0);
  // Top-level columns (a LIST column by its own name, not its leaf's); other nested columns refused by name.
  const names = topLevelColumns(path, metadata);
  const flat = flatNumericColumns(metadata);
  const lists = listNumericColumns(metadata);
  const blocks = fittingSpecs(names, options.rowMajor);
  const bound = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  // The chunks read are those of these top-level columns (hyparquet selects by a path's first name);
  // each name becomes an array of a cell a row.
  const readColumns = new Set(names);
  const checkBound = (rowGroup: number) => checkRowGroupBound(path, rowGroup, rowGroupSize(metadata.row_groups[rowGroup]!, readColumns, names.length), bound);
  return {
    rowGroups: rowGroupRows.length,
    firstRows,
    rowGroupRows,
    checkBound,
    async read(rowGroup: number): Promise<ColumnChunk> {
      // Before `count` sizes an array or a chunk is read.
      checkBound(rowGroup);
      const rowStart = firstRows[rowGroup]!;
      const rowEnd = rowStart + rowGroupRows[rowGroup]!;
      // Column chunks as they decode (columnar, no row objects); a chunk may reach past the range.
      const count = rowEnd - rowStart;
      // In the schema's order (Map.set on a present key keeps its place); filled as chunks decode.
      const columns = new Map<string, unknown[] | NumberColumn | undefined>(names.map((n) => [n, undefined]));
      const onChunk = (chunk: { columnName: string; columnData: ArrayLike<unknown>; rowStart: number }) => {
        if (!columns.has(chunk.columnName)) return;
        const from = Math.max(rowStart, chunk.rowStart);
        const to = Math.min(rowEnd, chunk.rowStart + chunk.columnData.length);
        const data = numbersTyped(chunk.columnData);
        let target = columns.get(chunk.columnName);
        // A column without nulls decodes to a typed array (FLOAT, DOUBLE, INT32): kept typed, as Arrow's
        // are, so no JS value is made per cell.
        if (isNumberColumn(data) && (target === undefined || target.constructor === data.constructor)) {
          if (target === undefined) columns.set(chunk.columnName, target = new (data.constructor as new (n: number) => NumberColumn)(count));
          (target as NumberColumn).set(data.subarray(from - chunk.rowStart, to - chunk.rowStart), from - rowStart);
          return;
        }
        if (target === undefined) columns.set(chunk.columnName, target = new Array<unknown>(count));
        else if (!Array.isArray(target)) columns.set(chunk.columnName, target = Array.from(target as NumberColumn));
        for (let r = from; r < to; r++) (target as unknown[])[r - rowStart] = data[r - chunk.rowStart];
      };
      let rowMajor: RowMajorColumns[] = [];
      try {
        // One open per row group (the file stays closed between the job's reads).
        await withFile(path, async (file) => {
          const fast = await readFlatColumns(file, metadata.row_groups[rowGroup]!.columns, flat, names, count, columns, blocks, options.arrays);
          rowMajor = fast.rowMajor;
          // LIST columns of numbers without a null, page by page into ListColumns (parquet-list-columns.ts).
          const slow = await readListColumns(file, metadata.row_groups[rowGroup]!.columns, lists, fast.slow, count, columns, Math.floor(bound / MIN_CELL_BYTES));
          // The rest through hyparquet: a few columns at a time, each few on a turn of the event loop
          // of its own. hyparquet fetches a row group's bytes at once and then decodes every column in
          // one synchronous run, which for 16,384 rows × 256 OPTIONAL floats held the main thread for
          // half a second; a batch job's instances finished their batches meanwhile and waited for the
          // next ones (a fifth of their time idle, `tsx bench/batch-threads.ts --format parquet`). A
          // call per column cost 10 % more decoding (each call plans and reads on its own), so a turn
          // takes ≈ CELLS_PER_TURN values (≈ 10 ms; a list column counts its values: parquet-read-turns.ts).
          const turns = turnsOf(slow, metadata.row_groups[rowGroup]!.columns, count);
          // hyparquet trusts every size and count its pages declare: each chunk it will read is checked
          // first (parquet-page-check.ts), one at a time, and decompressed only by boundedCompressors.
          const slowNames = new Set(slow);
          for (const chunk of metadata.row_groups[rowGroup]!.columns) {
            const meta = chunk.meta_data;
            if (!meta || chunk.file_path || !slowNames.has(meta.path_in_schema[0]!)) continue;
            const [start, end] = chunkRange(chunk);
            checkChunkPages(new Uint8Array(await file.slice(start, end)), meta, pageColumn(metadata, chunk), count, Math.floor(bound / MIN_CELL_BYTES));
          }
          for (const turn of turns) {
            await parquetRead({ file, metadata, rowStart, rowEnd, columns: turn, onChunk, compressors: boundedCompressors });
            await nextLoopTurn();
          }
        });
      } catch (error) {
        return unreadable(path, error);
      }
      for (const block of rowMajor) for (const name of block.names) columns.delete(name);
      // A column no chunk reached has no values: each of its cells is missing.
      for (const [name, values] of columns) if (values === undefined) columns.set(name, new Array<unknown>(count));
      return { columns: columns as Map<string, unknown[]>, rows: count, ...(rowMajor.length > 0 ? { rowMajor } : {}) };
    },
  };
}

type NumberColumn = Float32Array | Float64Array | Int32Array;
const isNumberColumn = (data: unknown): data is NumberColumn => data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array;

/**
 * A chunk of JS numbers only (no null) as a Float64Array, which holds every JS number exactly: the
 * same values, kept typed. hyparquet gives an OPTIONAL column (pandas', Polars' and Spark's default)
 * as a plain array even when no value is null; left so, every cell would go one by one through the
 * dataframe codec's general path instead of straight into the tensor.
 */
function numbersTyped(data: ArrayLike<unknown>): ArrayLike<unknown> {
  if (!Array.isArray(data) || data.length === 0) return data;
  const typed = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const value: unknown = data[i];
    if (typeof value !== 'number') return data;
    typed[i] = value;
  }
  return typed;
}

/** An output column: scalar or list cells of one element type; null for a row without a value. */
export interface OutputColumn {
  name: string;
  type: 'float32' | 'float64' | 'int32' | 'int64' | 'bool' | 'string';
  list: boolean;
  values: unknown[];
  /**
   * The same cells as one typed array of `size` elements per row, when every row has that many (a
   * fixed-shape numeric output): Arrow writes it as a FixedSizeList without a JS value per element.
   */
  flat?: { size: number; data: Float32Array | Float64Array | Int32Array };
}

/** A column's cells as JS values (lists as arrays), from `flat` when that is how it came. */
export function cellsOf(column: OutputColumn): unknown[] {
  if (!column.flat) return column.values;
  const { size, data } = column.flat;
  return Array.from({ length: data.length / size }, (_, r) => Array.from(data.subarray(r * size, (r + 1) * size)));
}

const PARQUET_TYPES = { float32: 'FLOAT', float64: 'DOUBLE', int32: 'INT32', int64: 'INT64', bool: 'BOOLEAN', string: 'BYTE_ARRAY' } as const;

export function writeParquet(columns: readonly OutputColumn[]): Uint8Array {
  const schema: Record<string, unknown>[] = [{ name: 'root', num_children: columns.length }];
  for (const c of columns) {
    const leaf = { type: PARQUET_TYPES[c.type], ...(c.type === 'string' ? { converted_type: 'UTF8' } : {}) };
    if (c.list) {
      schema.push({ name: c.name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 });
      schema.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      schema.push({ name: 'element', repetition_type: 'REQUIRED', ...leaf });
    } else {
      schema.push({ name: c.name, repetition_type: 'OPTIONAL', ...leaf });
    }
  }
  const buffer = parquetWriteBuffer({
    schema: schema as never,
    columnData: columns.map((c) => ({ name: c.name, data: cellsOf(c) as never })),
    statistics: false,
  });
  return new Uint8Array(buffer);
}

const ARROW_TYPES = { float32: () => new Float32(), float64: () => new Float64(), int32: () => new Int32(), int64: () => new Int64(), bool: () => new Bool(), string: () => new Utf8() };

export function writeArrow(columns: readonly OutputColumn[]): Uint8Array {
  const vectors = Object.fromEntries(columns.map((c) => {
    const element = ARROW_TYPES[c.type]();
    if (c.flat) {
      const type = new FixedSizeList(c.flat.size, new Field('item', element, false));
      const child = makeData({ type: element as Float32, length: c.flat.data.length, data: c.flat.data as Float32Array });
      return [c.name, makeVector(makeData({ type, length: c.flat.data.length / c.flat.size, child }))];
    }
    const type = c.list ? new List(new Field('item', element, false)) : element;
    return [c.name, (c.type === 'string' && !c.list && asciiStrings(c.values)) || vectorFromArray(c.values, type as never)];
  }));
  return tableToIPC(new ArrowTable(vectors), 'file');
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A Utf8 vector of strings that are all ASCII (ids, mostly) made from their text at once: Arrow's
 * builder took ≈ 1 µs a value (`writeArrow` of a 1,024-row part of the batch benchmark: 1.1–1.3 ms of
 * 1.4–2.6 for its id column). undefined for anything else (a null, a non-string, a character beyond
 * ASCII, where a value's byte length is no longer its length), which the builder takes as before.
 */
function asciiStrings(values: readonly unknown[]): ReturnType<typeof makeVector> | undefined {
  if (!values.every((v) => typeof v === 'string')) return undefined;
  const text = (values as string[]).join('');
  if (NON_ASCII.test(text)) return undefined;
  const offsets = new Int32Array(values.length + 1);
  for (let i = 0, at = 0; i < values.length; i++) offsets[i + 1] = at += (values[i] as string).length;
  return makeVector(makeData({ type: new Utf8(), length: values.length, nullCount: 0, valueOffsets: offsets, data: new TextEncoder().encode(text) }));
}
