/**
 * LIST columns of numbers (an embedding column: list<float>) of a Parquet row group decoded page by
 * page straight into a ListColumn (list-column.ts: one typed array of the values and each row's
 * offset), leaving out hyparquet's Dremel assembly, which builds an array per row value by value on
 * the main thread (≈ 0.16 µs a value: 0.67 s for a row group of 16,384 rows × 256 values, beside
 * onnxruntime's threads on the same cores). Measured with `tsx bench/parquet-list-columns.ts`
 * (docs/batch.md, "Parquet LIST columns").
 *
 * Taken here: a top-level list of FLOAT, DOUBLE or INT32 without a logical type, in the standard three
 * levels (`group (LIST) { repeated group list { required|optional <type> element } }`), the legacy two
 * (`group (LIST) { repeated <type> array }`) or a repeated leaf (`repeated <type> emb`), read as
 * hyparquet reads them; v1 and v2 data pages, every codec of boundedCompressors, and the encodings of
 * the scalar path (parquet-flat-columns.ts's decodeValues: PLAIN, dictionary, BYTE_STREAM_SPLIT,
 * DELTA_BINARY_PACKED for INT32). Only a chunk whose every definition level is the column's most: a
 * null list, an empty list or a null element anywhere in the chunk answers undefined, and the caller
 * reads the column through hyparquet as before (its rows then fail alone with its messages), as does a
 * page or encoding not listed here. The values are the ones hyparquet's arrays hold, in typed arrays.
 *
 * Checked before anything is sized by it, as parquet-page-check.ts checks a chunk for hyparquet: each
 * page within its chunk and its declared decoded bytes within the chunk's and its codec's reach (the
 * decompressors are boundedCompressors); its values within the chunk's (num_values, itself within
 * --max-message-bytes at 4 bytes a value, `maxValues`); its repetition and definition levels' runs
 * (parquet-list-levels.ts, checkHybrid) and its values' bytes before its values are placed. The array
 * of values grows page by page to what the pages checked so far hold (extrapolated over the chunk's
 * bytes, so a chunk of like pages is allocated once), never past the chunk's num_values.
 */
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import { parquetSchema, type AsyncBuffer, type ColumnChunk as ParquetColumnChunk, type Compressors, type DataReader, type FileMetaData } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { decompressPage } from 'hyparquet/src/datapage.js';
import { readPlain } from 'hyparquet/src/plain.js';
import { isListLike } from 'hyparquet/src/schema.js';
import { ListColumn } from './list-column.js';
import { boundedCompressors } from './parquet-bounded-decompressors.js';
import { ARRAYS, chunkRange, decodeValues, viewOf, type FlatColumn, type FlatType } from './parquet-flat-columns.js';
import { checkDeltaHeader, checkHybrid, checkPrefixedHybrid, expandsTo } from './parquet-page-check.js';
import { readRowStarts, type RowStarts } from './parquet-list-levels.js';

type SchemaTree = ReturnType<typeof parquetSchema>;

/** A LIST column this path may take: its leaf's type and its definition level when a value is present. */
export interface ListLeaf {
  type: FlatType;
  maxDefinitionLevel: number;
}

/** The leaf of a top-level list of scalars, as hyparquet reads the layouts (parquet-top-columns.ts accepts the same). */
function listLeaf(column: SchemaTree): SchemaTree | undefined {
  if (column.children.length === 0) return column.element.repetition_type === 'REPEATED' ? column : undefined;
  if (!isListLike(column) || column.element.repetition_type === 'REPEATED') return undefined;
  const repeated = column.children[0]!;
  if (repeated.children.length === 0) return repeated;
  const element = repeated.children[0]!;
  return element.children.length === 0 && element.element.repetition_type !== 'REPEATED' ? element : undefined;
}

/** The file's top-level LIST columns of FLOAT, DOUBLE or INT32 without a logical type, by name. */
export function listNumericColumns(metadata: FileMetaData): Map<string, ListLeaf> {
  const lists = new Map<string, ListLeaf>();
  for (const column of parquetSchema(metadata).children) {
    const leaf = listLeaf(column);
    const element = leaf?.element;
    if (!element || !(element.type! in ARRAYS) || element.converted_type !== undefined || element.logical_type !== undefined) continue;
    // Definition levels count the path's non-REQUIRED nodes (hyparquet's getMaxDefinitionLevel); one is REPEATED.
    const path = leaf === column ? [column] : leaf === column.children[0] ? [column, leaf] : [column, column.children[0]!, leaf];
    lists.set(column.element.name, { type: element.type as FlatType, maxDefinitionLevel: path.filter((node) => node.element.repetition_type !== 'REQUIRED').length });
  }
  return lists;
}

/**
 * The main thread's time decoding pages before a turn of the event loop is taken (between pages): by
 * time, not values, as a page's cost varies with its codec and encoding (≈ 1.3 ms a 1 MiB PLAIN page of
 * floats with snappy, ≈ 13 ms with zstd, whose pure-JS decoder is the slowest part).
 */
export const LIST_SLICE_MS = 4;

/** How many LIST chunks this path has decoded, for tests that must know it took them. */
export const listFastPath = { chunks: 0 };

const corrupt = (message: string): never => {
  throw new RangeError(message);
};

const bitWidth = (value: number) => 32 - Math.clz32(value);

/**
 * The row group's `names` this path decodes (listNumericColumns), each chunk read and decoded with a
 * turn of the event loop between pages every LIST_SLICE_MS, set in `columns` as a ListColumn.
 * Answers the names left to hyparquet's general path.
 */
export async function readListColumns(
  file: AsyncBuffer, chunks: readonly ParquetColumnChunk[], lists: ReadonlyMap<string, ListLeaf>, names: readonly string[], rows: number,
  columns: Map<string, unknown>, maxValues: number,
): Promise<string[]> {
  const byName = new Map(chunks.map((chunk) => [chunk.meta_data?.path_in_schema[0], chunk]));
  const left: string[] = [];
  for (const name of names) {
    const chunk = byName.get(name);
    const leaf = lists.get(name);
    // A chunk stored in another file (file_path) is left to hyparquet, which refuses it with its message.
    if (!leaf || !chunk?.meta_data || chunk.file_path) {
      left.push(name);
      continue;
    }
    const [start, end] = chunkRange(chunk);
    const pages = decodeListChunk(new Uint8Array(await file.slice(start, end)), chunk, name, leaf, rows, boundedCompressors, maxValues);
    // The read above was a turn of the loop.
    let turn = performance.now();
    let step = pages.next();
    for (; !step.done; step = pages.next()) {
      if (performance.now() - turn < LIST_SLICE_MS) continue;
      await nextLoopTurn();
      turn = performance.now();
    }
    if (step.value) columns.set(name, step.value);
    else left.push(name);
  }
  return left;
}

/**
 * A LIST column chunk (`bytes`: its whole byte range, chunkRange) as a ListColumn of `rows` rows,
 * yielding after each page (a data page's count of values) so the caller may take a turn between
 * pages; the answer is undefined for a chunk this path leaves to hyparquet. Throws a RangeError on a
 * chunk that declares what its bytes do not hold.
 */
export function* decodeListChunk(
  bytes: Uint8Array, chunk: ParquetColumnChunk, name: string, leaf: ListLeaf, rows: number, codecs: Compressors, maxValues: number,
): Generator<number, ListColumn | undefined> {
  const meta = chunk.meta_data!;
  const what = `column "${name}"`;
  const { type, maxDefinitionLevel: full } = leaf;
  const total = Number(meta.num_values);
  // Beyond `maxValues` the general path's page check refuses it; leave that to it.
  if (meta.type !== type || !(Number.isSafeInteger(total) && total >= 0) || total > maxValues) return undefined;
  const Elements = ARRAYS[type];
  const size = Elements.BYTES_PER_ELEMENT;
  const starts: RowStarts = { offsets: new Int32Array(rows + 1), rows: 0 };
  let elements: FlatColumn = new Elements(0);
  let dictionary: FlatColumn | undefined;
  const reader: DataReader = { view: viewOf(bytes), offset: 0 };
  const declaredDecoded = Number(meta.total_uncompressed_size);
  let decoded = 0;
  let levels = 0;
  while (levels < total) {
    if (reader.offset >= bytes.length) corrupt(`${what}: the chunk ended after ${levels} of its ${total} values`);
    const header = parquetHeader(reader);
    const compressed = header.compressed_page_size;
    const uncompressed = header.uncompressed_page_size;
    if (!(Number.isSafeInteger(compressed) && compressed >= 0 && compressed <= bytes.length - reader.offset)) corrupt(`${what}: a page of ${compressed} bytes where its chunk has ${bytes.length - reader.offset} left`);
    if (!(Number.isSafeInteger(uncompressed) && uncompressed >= 0)) corrupt(`${what}: a page declares ${uncompressed} bytes decoded`);
    if ((decoded += uncompressed) > declaredDecoded) corrupt(`${what}: its pages declare more than the ${declaredDecoded} bytes decoded its chunk declares`);
    const page = bytes.subarray(reader.offset, reader.offset + compressed);
    reader.offset += compressed;
    const decompress = (part: Uint8Array, length: number): Uint8Array => {
      if (length > expandsTo(meta.codec, part.length)) corrupt(`${what}: a page of ${part.length} bytes declares ${length} decoded, more than ${meta.codec} can make of them`);
      return decompressPage(part, length, meta.codec, codecs);
    };
    if (header.type === 'DICTIONARY_PAGE') {
      const entries = header.dictionary_page_header?.num_values;
      if (!(Number.isSafeInteger(entries) && entries! >= 0 && entries! * size <= uncompressed)) corrupt(`${what}: a dictionary page declares ${entries} values in ${uncompressed} bytes`);
      dictionary = readPlain({ view: viewOf(decompress(page, uncompressed)), offset: 0 }, type, entries!, undefined) as FlatColumn;
      // A turn may come here too: a dictionary page is up to a MiB, as a data page is.
      yield 0;
      continue;
    }
    let values: DataReader;
    let count: number;
    let encoding: string;
    if (header.type === 'DATA_PAGE') {
      const daph = header.data_page_header!;
      count = daph.num_values;
      if (!(Number.isSafeInteger(count) && count >= 0 && count <= total - levels)) corrupt(`${what}: a data page declares ${count} values where ${total - levels} are left`);
      // Levels as the RLE/bit-packed hybrid with its length first; the deprecated BIT_PACKED layout is left to hyparquet.
      if (daph.repetition_level_encoding !== 'RLE' || daph.definition_level_encoding !== 'RLE') return undefined;
      values = { view: viewOf(decompress(page, uncompressed)), offset: 0 };
      const end = values.view.byteLength;
      if (values.offset + 4 > end) corrupt(`${what}: repetition levels: no room for their length`);
      const length = values.view.getUint32(0, true);
      if (4 + length > end) corrupt(`${what}: repetition levels: ${length} bytes where ${end - 4} are left`);
      values.offset = 4;
      readRowStarts(values, 4 + length, count, levels, starts, what);
      values.offset = 4 + length;
      if (checkPrefixedHybrid(values, end, bitWidth(full), count, `${what}: definition levels`, full) !== count) return undefined;
      encoding = daph.encoding;
    } else if (header.type === 'DATA_PAGE_V2') {
      const v2 = header.data_page_header_v2!;
      const { num_values: pageCount, num_nulls: nulls, definition_levels_byte_length: defBytes, repetition_levels_byte_length: repBytes } = v2;
      count = pageCount;
      if (!(Number.isSafeInteger(count) && count >= 0 && count <= total - levels)) corrupt(`${what}: a data page declares ${count} values where ${total - levels} are left`);
      // A null (or an empty list, counted as one) anywhere: before anything is decompressed.
      if (nulls !== 0) return undefined;
      if (!(Number.isSafeInteger(defBytes) && Number.isSafeInteger(repBytes) && defBytes >= 0 && repBytes >= 0 && defBytes + repBytes <= Math.min(compressed, uncompressed))) {
        corrupt(`${what}: a data page declares ${repBytes} + ${defBytes} bytes of levels in ${compressed} bytes`);
      }
      // v2 keeps its levels uncompressed and without a length before the values.
      const levelReader: DataReader = { view: viewOf(page), offset: 0 };
      readRowStarts(levelReader, repBytes, count, levels, starts, what);
      levelReader.offset = repBytes;
      if (checkHybrid(levelReader, repBytes + defBytes, bitWidth(full), count, `${what}: definition levels`, full) !== count) return undefined;
      const rest = page.subarray(repBytes + defBytes);
      const restDecoded = uncompressed - repBytes - defBytes;
      values = { view: viewOf(v2.is_compressed !== false && restDecoded > 0 ? decompress(rest, restDecoded) : rest), offset: 0 };
      encoding = v2.encoding;
    } else {
      return undefined;
    }
    // The values' bytes before the array grows for them.
    const left = values.view.byteLength - values.offset;
    if ((encoding === 'PLAIN' || encoding === 'BYTE_STREAM_SPLIT') && count * size > left) corrupt(`${what}: a page declares ${count} ${encoding} values in ${left} bytes`);
    if (encoding === 'DELTA_BINARY_PACKED' && count > 0) checkDeltaHeader(values, values.view.byteLength, `${what}: values`);
    if (levels + count > elements.length) elements = grown(elements, levels + count, total, reader.offset / bytes.length);
    if (!decodeValues(values, type, encoding, count, dictionary, { data: elements, stride: 1, offset: 0 }, levels)) return undefined;
    levels += count;
    yield count;
  }
  // Fewer rows than the row group's, or values before the first row: left to hyparquet, which reads it as it did.
  if (starts.rows !== rows || (rows > 0 && starts.offsets[0] !== 0)) return undefined;
  starts.offsets[rows] = total;
  listFastPath.chunks++;
  return new ListColumn(elements.length === total ? elements : elements.subarray(0, total), starts.offsets);
}

/**
 * The values' array with room for `need`: the chunk's values as the share of its bytes read so far
 * (`done`) promises them (one allocation for a chunk of like pages), never more than `total`.
 */
function grown(elements: FlatColumn, need: number, total: number, done: number): FlatColumn {
  const room = Math.min(total, Math.max(need, Math.ceil(need / Math.max(done, 1e-9) * 1.02)));
  const next = new (elements.constructor as new (n: number) => FlatColumn)(room);
  next.set(elements as Float64Array);
  return next;
}
