/**
 * Numeric feature columns of a Parquet row group decoded straight into a typed array, page by page
 * with hyparquet's own page functions (headers, decompression, PLAIN, dictionary, delta and
 * byte-stream-split values, RLE/bit-packed levels), leaving out hyparquet's Dremel assembly for the
 * columns that need none: a top-level FLOAT, DOUBLE or INT32 column with no logical type and no null
 * in the row group.
 *
 * Why: that is what pandas, Polars, Spark and hyparquet-writer write for a model's features (OPTIONAL,
 * as every column is nullable there), and hyparquet assembles an OPTIONAL column value by value into a
 * plain array (its definition levels as a plain array too) even when no value is null. Measured with
 * `tsx bench/parquet-readers.ts` (docs/batch.md, "The Parquet reader"): 200,000 rows × 256 OPTIONAL
 * FLOAT columns read in 1.24 s against 6.84 s through parquetRead alone. Anything else — a null,
 * another type or encoding, a nested column — answers undefined, and the caller reads that column
 * through parquetRead as before. An upstream change (hyparquet returning a flat page's values as
 * they are when it has no null) would make this file unnecessary.
 *
 * The columns that make up one FP32/FP64 input (a row-major spec, row-major-layout.ts) are written
 * straight into that input's row-major layout, one array per spec (dataframe-codec.ts's
 * RowMajorColumns), so a batch's tensor is a copy of a slice instead of a gather of one value per cell
 * from each column.
 */
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import type { AsyncBuffer, ColumnChunk as ParquetColumnChunk, Compressors, DataReader, FileMetaData, SchemaElement } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { decompressPage } from 'hyparquet/src/datapage.js';
import { deltaBinaryUnpack } from 'hyparquet/src/delta.js';
import { byteStreamSplit, readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import { readPlain } from 'hyparquet/src/plain.js';
import type { RowMajorColumns } from './dataframe-codec.js';
import { boundedCompressors } from './parquet-bounded-decompressors.js';
import { checkHybrid, checkPrefixedHybrid } from './parquet-page-check.js';
import { topLevelLeaves } from './parquet-top-columns.js';
import { FloatArrays, placesIn, type RowMajorSpec } from './row-major-layout.js';

export type FlatColumn = Float32Array | Float64Array | Int32Array;

/**
 * Where a column's values go: row `r` at `data[offset + r * stride]`. A column's own array has stride 1
 * and offset 0; in a row-major block the stride is the block's width and the offset the column's place.
 */
export interface FlatTarget {
  data: FlatColumn;
  stride: number;
  offset: number;
}

export const ARRAYS = { FLOAT: Float32Array, DOUBLE: Float64Array, INT32: Int32Array } as const;
export type FlatType = keyof typeof ARRAYS;

/**
 * The top-level leaf columns a row group may decode here, by name: REQUIRED or OPTIONAL numbers with no
 * logical type. A nested column beside them (a LIST of embeddings) leaves them on this path.
 */
export function flatNumericColumns(metadata: FileMetaData): Map<string, SchemaElement> {
  const flat = new Map<string, SchemaElement>();
  for (const element of topLevelLeaves(metadata).values()) {
    if (!(element.type! in ARRAYS) || element.repetition_type === 'REPEATED') continue;
    if (element.converted_type !== undefined || element.logical_type !== undefined) continue;
    flat.set(element.name, element);
  }
  return flat;
}

/**
 * The byte range of a column chunk in the file (its dictionary page, when it has one, comes first), as
 * hyparquet reads it and parquet-footer-bounds.ts checks it: a dictionary page offset of 0, the file's
 * leading magic, is taken for none (a writer's placeholder), not as a range from the file's first byte.
 */
export function chunkRange(chunk: ParquetColumnChunk): [number, number] {
  const meta = chunk.meta_data!;
  const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
  return [start, start + Number(meta.total_compressed_size)];
}

/**
 * The reads that cover these byte ranges: ranges at most `maxGap` apart share one read, so a row
 * group's numeric chunks stored one after another cost one slice, while the chunks of other columns
 * stored between them (strings, say, which hyparquet reads itself) are not read a second time.
 * `members` lists the ranges each read covers, by index, in file order.
 */
export function coalescedReads(ranges: readonly (readonly [number, number])[], maxGap: number): { start: number; end: number; members: number[] }[] {
  const order = ranges.map((_, i) => i).sort((a, b) => ranges[a]![0] - ranges[b]![0]);
  const reads: { start: number; end: number; members: number[] }[] = [];
  for (const i of order) {
    const [start, end] = ranges[i]!;
    const last = reads.at(-1);
    if (last && start - last.end <= maxGap) {
      last.end = Math.max(last.end, end);
      last.members.push(i);
    } else {
      reads.push({ start, end, members: [i] });
    }
  }
  return reads;
}

/** Cells decoded per turn of the event loop, at ≈ 5 ns a cell (27 ms for a 16,384 × 256 row group): ≈ 10 ms. */
const FLAT_CELLS_PER_TURN = 1 << 21;
/** Numeric chunks closer than this share one read; farther apart, the bytes between are not read. */
const READ_GAP_BYTES = 256 * 1024;

/**
 * The row group's `names` this path decodes (flatNumericColumns), their chunks read in as few slices as
 * cover them without the other columns' bytes (coalescedReads): each into an array of its own, set in
 * `columns`, or, for the columns of one of `blocks` (row-major specs: fittingSpecs), into that block's
 * row-major array (taken from `arrays`), answered in `rowMajor`. `slow`: the names left to hyparquet's
 * general path.
 */
export async function readFlatColumns(
  file: AsyncBuffer, chunks: readonly ParquetColumnChunk[], flat: ReadonlyMap<string, SchemaElement>, names: readonly string[], rows: number,
  columns: Map<string, unknown>, blocks: readonly RowMajorSpec[] = [], arrays = new FloatArrays(),
): Promise<{ slow: string[]; rowMajor: RowMajorColumns[] }> {
  const byName = new Map(chunks.map((chunk) => [chunk.meta_data?.path_in_schema.join('.'), chunk]));
  // A chunk stored in another file (file_path) is left to hyparquet, which refuses it with its message.
  const candidates = names.filter((name) => flat.has(name) && byName.get(name)?.meta_data && !byName.get(name)!.file_path);
  // A block is filled only when each of its columns may take this path; otherwise its columns are read as any other.
  const eligible = new Set(candidates);
  const kept = blocks.filter((spec) => spec.names.every((name) => eligible.has(name)));
  const places = placesIn(kept);
  const data = kept.map((spec) => arrays.take(spec.float32, rows * spec.names.length));
  const written = kept.map((): string[] => []);
  const failed = new Set<number>();
  const ranges = candidates.map((name) => chunkRange(byName.get(name)!));
  const decoded = new Set<string>();
  let cells = 0;
  for (const read of coalescedReads(ranges, READ_GAP_BYTES)) {
    const bytes = new Uint8Array(await file.slice(read.start, read.end));
    for (const i of read.members) {
      const [a, b] = ranges[i]!;
      const name = candidates[i]!;
      const at = places.get(name);
      const into = at && !failed.has(at.block) ? { data: data[at.block]!, stride: kept[at.block]!.names.length, offset: at.offset } : undefined;
      const values = readFlatColumn(bytes.subarray(a - read.start, b - read.start), byName.get(name)!, flat.get(name)!, rows, boundedCompressors, into);
      if (values && into) {
        written[at!.block]!.push(name);
      } else if (values) {
        columns.set(name, values);
        decoded.add(name);
      } else if (into) {
        // A column of the block that cannot take this path in this row group (a null, say): the whole
        // block is read column by column, as it was before blocks; its rest from here on each into an
        // array of its own, and those already written once more below (the block may have rounded them).
        failed.add(at!.block);
      }
      if ((cells += rows) >= FLAT_CELLS_PER_TURN) {
        cells = 0;
        await nextLoopTurn();
      }
    }
  }
  // DOUBLE values rounded into an FP32 block: one beyond FP32's range became ±Infinity. The block is then
  // read column by column, so the input's mapping refuses that row by name (codecs/dataframe-codec.ts)
  // instead of running it on an infinity; a DOUBLE that was an infinity already takes that path too.
  kept.forEach((spec, k) => {
    if (!failed.has(k) && data[k] instanceof Float32Array && spec.names.some((name) => flat.get(name)?.type === 'DOUBLE') && hasInfinity(data[k])) failed.add(k);
  });
  const rowMajor = kept.flatMap((spec, k) => (failed.has(k) ? [] : [{ names: spec.names, data: data[k]! }]));
  for (const block of rowMajor) for (const name of block.names) decoded.add(name);
  arrays.give([...failed].map((k) => data[k]!));
  const again = [...failed].flatMap((k) => written[k]!);
  const left = new Set(again.length > 0 ? (await readFlatColumns(file, chunks, flat, again, rows, columns)).slow : []);
  return { slow: names.filter((name) => !decoded.has(name) && (!again.includes(name) || left.has(name))), rowMajor };
}

function hasInfinity(data: Float32Array): boolean {
  for (let i = 0; i < data.length; i++) if (data[i] === Infinity || data[i] === -Infinity) return true;
  return false;
}

/**
 * Every definition level of a v1 page's RLE/bit-packed run is 1 (no null), the reader left after the levels.
 * The runs are checked as they are read (checkHybrid): none longer than the page's values or its bytes.
 */
function noNullLevels(reader: DataReader, count: number, what: string): boolean {
  return checkPrefixedHybrid(reader, reader.view.byteLength, 1, count, `${what}: definition levels`, 1) === count;
}

/**
 * The column chunk `bytes` (its whole byte range, chunkRange) as a typed array of `rows` values, or
 * undefined when it has a null or a page this path does not decode. Throws on a corrupt chunk, as
 * hyparquet would. With `into`, the values go there (the array answered) instead of into an array of
 * their own, each converted as a typed array's element assignment does (a double rounded once to
 * float32 in a Float32Array); on undefined, `into` may hold some of them.
 */
export function readFlatColumn(bytes: Uint8Array, chunk: ParquetColumnChunk, element: SchemaElement, rows: number, codecs: Compressors | undefined, into?: FlatTarget): FlatColumn | undefined {
  const meta = chunk.meta_data!;
  const type = element.type as FlatType;
  if (meta.type !== type || Number(meta.num_values) !== rows) return undefined;
  const optional = element.repetition_type === 'OPTIONAL';
  const out = into ?? { data: new ARRAYS[type](rows), stride: 1, offset: 0 };
  const reader: DataReader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
  let dictionary: FlatColumn | undefined;
  let filled = 0;
  while (filled < rows) {
    if (reader.offset >= bytes.length) throw new Error(`column ${element.name}: the chunk ended after ${filled} of ${rows} values`);
    const header = parquetHeader(reader);
    // Sizes from the file, checked before anything is allocated for them: a page of this column holds
    // at most `rows` values of ≤ 8 bytes and their levels (≤ 1 byte each, with run headers).
    if (!(header.compressed_page_size >= 0 && header.compressed_page_size <= bytes.length - reader.offset)) throw new Error(`column ${element.name}: a page reaches past its chunk`);
    if (!(header.uncompressed_page_size >= 0 && header.uncompressed_page_size <= rows * 9 + 1024)) throw new Error(`column ${element.name}: a page claims ${header.uncompressed_page_size} bytes for ${rows} values`);
    const page = bytes.subarray(reader.offset, reader.offset + header.compressed_page_size);
    reader.offset += header.compressed_page_size;
    if (header.type === 'DICTIONARY_PAGE') {
      // Its values within its bytes (hyparquet copies a misaligned page's `num_values` values into an array of their size).
      const entries = header.dictionary_page_header?.num_values;
      if (!(Number.isSafeInteger(entries) && entries! >= 0 && entries! * ARRAYS[type].BYTES_PER_ELEMENT <= header.uncompressed_page_size)) throw new RangeError(`column ${element.name}: a dictionary page claims ${entries} values in ${header.uncompressed_page_size} bytes`);
      const plain = decompressPage(page, header.uncompressed_page_size, meta.codec, codecs);
      dictionary = readPlain({ view: viewOf(plain), offset: 0 }, type, header.dictionary_page_header!.num_values, undefined) as FlatColumn;
      continue;
    }
    let values: DataReader;
    let count: number;
    let encoding: string;
    if (header.type === 'DATA_PAGE') {
      const daph = header.data_page_header!;
      const plain = decompressPage(page, header.uncompressed_page_size, meta.codec, codecs);
      values = { view: viewOf(plain), offset: 0 };
      count = daph.num_values;
      // Before anything is sized or looped by it.
      if (!(Number.isSafeInteger(count) && count >= 0 && filled + count <= rows)) throw new RangeError(`column ${element.name}: a page claims ${count} values where ${rows - filled} of the chunk's ${rows} are left`);
      // Levels as the RLE/bit-packed hybrid with its length first; the deprecated BIT_PACKED layout is left to hyparquet.
      if (optional && (daph.definition_level_encoding !== 'RLE' || !noNullLevels(values, count, `column ${element.name}`))) return undefined;
      encoding = daph.encoding;
    } else if (header.type === 'DATA_PAGE_V2') {
      const daph2 = header.data_page_header_v2!;
      if (daph2.num_nulls !== 0 || daph2.repetition_levels_byte_length !== 0) return undefined;
      // v2 keeps the levels uncompressed before the values: with no null they need no reading.
      const levels = daph2.definition_levels_byte_length;
      if (!(Number.isSafeInteger(levels) && levels >= 0 && levels <= Math.min(page.length, header.uncompressed_page_size))) throw new RangeError(`column ${element.name}: a page claims ${levels} bytes of levels in ${page.length}`);
      const rest = page.subarray(levels);
      const plain = daph2.is_compressed === false ? rest : decompressPage(rest, header.uncompressed_page_size - levels, meta.codec, codecs);
      values = { view: viewOf(plain), offset: 0 };
      count = daph2.num_values;
      encoding = daph2.encoding;
    } else {
      return undefined;
    }
    if (!(Number.isSafeInteger(count) && count >= 0 && filled + count <= rows)) throw new Error(`column ${element.name}: pages hold more than the chunk's ${rows} values`);
    if (!decodeValues(values, type, encoding, count, dictionary, out, filled)) return undefined;
    filled += count;
  }
  return out.data;
}

export const viewOf = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * A page's `count` values into `out` from row `at`; false for an encoding this path leaves to hyparquet.
 * Also the values of a LIST column's pages (parquet-list-columns.ts), with `at` a value's position.
 */
export function decodeValues(reader: DataReader, type: FlatType, encoding: string, count: number, dictionary: FlatColumn | undefined, out: FlatTarget, at: number): boolean {
  if (encoding === 'PLAIN') return place(out, readPlain(reader, type, count, undefined) as FlatColumn, at);
  if (encoding === 'DELTA_BINARY_PACKED' && type === 'INT32') {
    // arrow-rs's fallback for integers once a v2 writer's dictionary is full.
    const own = out.stride === 1 && out.data instanceof Int32Array;
    const values = own ? out.data.subarray(out.offset + at, out.offset + at + count) as Int32Array : new Int32Array(count);
    deltaBinaryUnpack(reader, count, values);
    return own || place(out, values, at);
  }
  if (encoding === 'BYTE_STREAM_SPLIT') return place(out, byteStreamSplit(reader, count, type, undefined) as FlatColumn, at);
  if ((encoding === 'RLE_DICTIONARY' || encoding === 'PLAIN_DICTIONARY') && dictionary) {
    const width = reader.view.getUint8(reader.offset++);
    const indices = new Uint32Array(count);
    if (width > 0) {
      // Its runs within the page's values and bytes first (hyparquet loops as long as a run's header says).
      checkHybrid({ view: reader.view, offset: reader.offset }, reader.view.byteLength, width, count, 'dictionary indices');
      readRleBitPackedHybrid(reader, width, indices, reader.view.byteLength - reader.offset);
    }
    const { data, stride } = out;
    for (let i = 0, to = out.offset + at * stride; i < count; i++, to += stride) {
      const index = indices[i]!;
      if (index >= dictionary.length) throw new Error(`dictionary index ${index} is outside its ${dictionary.length} values`);
      data[to] = dictionary[index]!;
    }
    return true;
  }
  return false;
}

/** A page's values into `out` from row `at`: one copy into a column's own array, strided into a block. */
function place(out: FlatTarget, values: FlatColumn, at: number): true {
  const { data, stride } = out;
  if (stride === 1) data.set(values, out.offset + at);
  else for (let i = 0, to = out.offset + at * stride; i < values.length; i++, to += stride) data[to] = values[i]!;
  return true;
}
