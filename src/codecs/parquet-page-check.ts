/**
 * What a Parquet column chunk's pages declare, checked before hyparquet decodes them. hyparquet trusts
 * every size and count a page gives: a page header's uncompressed size is allocated as it stands (the
 * snappy decoder grows its WebAssembly memory to it, for good), a zstd frame's declared size or window is
 * allocated and a frame without a size decodes without end (a few bytes of RLE blocks make gigabytes), a
 * brotli stream grows its output by what each meta-block claims, an RLE run of the levels or dictionary
 * indices writes as many values as its header says past the end of a plain array (a 2^31-value run in a
 * five-byte header ran the process out of heap), a bit-packed run of width 0 loops that long, a
 * DELTA_BYTE_ARRAY value allocates its declared prefix length, and a dictionary or data page's count of
 * values sizes its arrays. Here, chunk by chunk, before hyparquet sees the bytes:
 *
 * - every page lies within its chunk, and the bytes its header declares decoded are within what the chunk
 *   declares in the footer (each chunk's total_uncompressed_size, held to --max-message-bytes by
 *   parquet-footer-bounds.ts) and within what its compressed bytes can expand to with its codec;
 * - a page's values are within the row group's rows (a flat column) or the chunk's values (nested), a
 *   dictionary's within what its bytes can hold;
 * - every RLE/bit-packed run of the levels, of dictionary indices and of RLE booleans stays within its
 *   page's values and bytes; DELTA_BYTE_ARRAY prefixes within the value before; a delta header's
 *   miniblocks within the page's bytes;
 * - decompressors (boundedCompressors, parquet-bounded-decompressors.ts, the only ones given to hyparquet) allocate no more than the size
 *   the page declares: snappy's and zstd's own declared sizes must agree with it, and brotli stops at it.
 *
 * A refusal is a RangeError naming the column and what is wrong; the readers report it as a corrupt file.
 */
import type { ColumnChunk, ColumnMetaData, CompressionCodec, DataReader, FileMetaData, ParquetType } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { deltaBinaryUnpack } from 'hyparquet/src/delta.js';
import { getMaxDefinitionLevel, getMaxRepetitionLevel, getSchemaPath, isFlatColumn } from 'hyparquet/src/schema.js';
import { readVarInt } from 'hyparquet/src/thrift.js';
import { boundedCompressors } from './parquet-bounded-decompressors.js';

const corrupt = (message: string): never => {
  throw new RangeError(message);
};


/**
 * The most bytes `compressed` bytes decode to with `codec`, from each format's longest copy per byte
 * (snappy: 64 bytes from a 3-byte copy; deflate: 258 from a 2-bit code, RFC 1951's 1032:1; LZ4: 255 per
 * extra length byte); zstd and brotli have no such bound (a zstd RLE block, a brotli repeat), so only
 * the chunk's declared size bounds them.
 */
export function expandsTo(codec: CompressionCodec, compressed: number): number {
  switch (codec) {
    case 'UNCOMPRESSED': return compressed;
    case 'SNAPPY': return 22 * compressed + 32;
    case 'GZIP': return 1032 * compressed + 1024;
    case 'LZ4': case 'LZ4_RAW': return 256 * compressed + 1024;
    default: return Number.POSITIVE_INFINITY;
  }
}

/** Bits a PLAIN value of `type` takes at the least (BYTE_ARRAY: its 4-byte length). */
function plainBits(type: ParquetType, typeLength: number | undefined): number {
  switch (type) {
    case 'BOOLEAN': return 1;
    case 'INT32': case 'FLOAT': return 32;
    case 'INT64': case 'DOUBLE': return 64;
    case 'INT96': return 96;
    case 'BYTE_ARRAY': return 32;
    case 'FIXED_LEN_BYTE_ARRAY': return 8 * Math.max(1, typeLength ?? 0);
    default: return 1;
  }
}

const bitWidth = (value: number) => 32 - Math.clz32(value);

/**
 * The runs of an RLE/bit-packed hybrid stream of `count` values of `width` bits in [reader.offset, end),
 * walked as hyparquet's readRleBitPackedHybrid reads them (its varint, its signed bit-packed count): each
 * RLE run within the values left, each bit-packed run within them rounded up to its group of 8, each run's
 * bytes within `end`. Answers how many values equal `value` (levels: the non-null ones); the reader is left
 * after the last run.
 */
export function checkHybrid(reader: DataReader, end: number, width: number, count: number, what: string, value = -1): number {
  if (width > 32) corrupt(`${what}: a bit width of ${width}`);
  const bytes = new Uint8Array(reader.view.buffer, reader.view.byteOffset, reader.view.byteLength);
  let seen = 0;
  let matches = 0;
  const rleBytes = (width + 7) >> 3;
  while (seen < count) {
    if (reader.offset >= end) corrupt(`${what}: its runs end after ${seen} of ${count} values`);
    const header = readVarInt(reader);
    if (reader.offset > end) corrupt(`${what}: a run header reaches past its bytes`);
    if (header & 1) {
      const values = (header >> 1) << 3;
      if (values < 0 || values > count - seen + 7) corrupt(`${what}: a bit-packed run of ${values} values where ${count - seen} are left`);
      const runBytes = (values * width) / 8;
      if (reader.offset + runBytes > end) corrupt(`${what}: a bit-packed run reaches past its bytes`);
      if (value >= 0) {
        const n = Math.min(values, count - seen);
        for (let i = 0; i < n; i++) {
          let v = 0;
          for (let b = 0; b < width; b++) {
            const bit = i * width + b;
            v |= ((bytes[reader.offset + (bit >> 3)]! >> (bit & 7)) & 1) << b;
          }
          if (v === value) matches++;
        }
      }
      reader.offset += runBytes;
      seen += values;
    } else {
      const values = header >>> 1;
      if (values > count - seen) corrupt(`${what}: an RLE run of ${values} values where ${count - seen} are left`);
      if (reader.offset + rleBytes > end) corrupt(`${what}: an RLE run reaches past its bytes`);
      let v = 0;
      for (let i = 0; i < rleBytes; i++) v |= bytes[reader.offset + i]! << (i << 3);
      if (v === value) matches += values;
      reader.offset += rleBytes;
      seen += values;
    }
  }
  return matches;
}

/** A length-prefixed hybrid stream (v1 levels, RLE booleans): its 4-byte length, then checkHybrid within it. */
export function checkPrefixedHybrid(reader: DataReader, end: number, width: number, count: number, what: string, value = -1): number {
  if (reader.offset + 4 > end) corrupt(`${what}: no room for its length`);
  const length = reader.view.getUint32(reader.offset, true);
  reader.offset += 4;
  if (reader.offset + length > end) corrupt(`${what}: ${length} bytes where ${end - reader.offset} are left`);
  const start = reader.offset;
  const matches = checkHybrid(reader, start + length, width, count, what, value);
  reader.offset = start + length;
  return matches;
}

/**
 * A DELTA_BINARY_PACKED header as hyparquet reads it: miniblocks a block (a bit width byte each, allocated
 * by hyparquet for INT64) within the bytes left, values a miniblock a positive multiple of 8.
 */
export function checkDeltaHeader(reader: DataReader, end: number, what: string): void {
  const at = reader.offset;
  const blockSize = readVarInt(reader);
  const miniblocks = readVarInt(reader);
  reader.offset = at;
  if (!(blockSize > 0 && miniblocks > 0 && miniblocks <= end - at && blockSize % miniblocks === 0 && (blockSize / miniblocks) % 8 === 0)) {
    corrupt(`${what}: a DELTA_BINARY_PACKED header of ${blockSize} values in ${miniblocks} miniblocks`);
  }
}

/** DELTA_BYTE_ARRAY: every prefix within the value before it, every suffix within the bytes left. */
function checkDeltaByteArray(reader: DataReader, end: number, count: number, what: string): void {
  checkDeltaHeader(reader, end, `${what} (prefix lengths)`);
  const prefixes = new Int32Array(count);
  deltaBinaryUnpack(reader, count, prefixes);
  checkDeltaHeader(reader, end, `${what} (suffix lengths)`);
  const suffixes = new Int32Array(count);
  deltaBinaryUnpack(reader, count, suffixes);
  let previous = 0;
  let total = 0;
  for (let i = 0; i < count; i++) {
    const prefix = prefixes[i]!;
    const suffix = suffixes[i]!;
    if (prefix < 0 || prefix > previous || suffix < 0) corrupt(`${what}: value ${i} has a prefix of ${prefix} bytes (the value before has ${previous}) and a suffix of ${suffix}`);
    total += suffix;
    previous = prefix + suffix;
  }
  if (total > end - reader.offset) corrupt(`${what}: its suffixes take ${total} bytes where ${end - reader.offset} are left`);
}

/** The column as checkChunkPages needs it: its leaf's type, and its levels as hyparquet computes them. */
export interface PageColumn {
  name: string;
  type: ParquetType;
  typeLength: number | undefined;
  maxDefinitionLevel: number;
  maxRepetitionLevel: number;
  /** A top-level leaf: one value per row (hyparquet reads its pages until it has the row group's rows). */
  flat: boolean;
}

/** The column of `chunk` as hyparquet reads it, from the file's schema. */
export function pageColumn(metadata: FileMetaData, chunk: ColumnChunk): PageColumn {
  const meta = chunk.meta_data!;
  const path = getSchemaPath(metadata.schema, meta.path_in_schema);
  const element = path[path.length - 1]!.element;
  return {
    name: meta.path_in_schema.join('.'),
    type: meta.type,
    typeLength: element.type_length,
    maxDefinitionLevel: getMaxDefinitionLevel(path),
    maxRepetitionLevel: getMaxRepetitionLevel(path),
    flat: isFlatColumn(path),
  };
}

/**
 * Checks every page of a column chunk (`bytes`: its whole byte range) as described at the top, before
 * hyparquet reads it: `rows` is the row group's, `maxValues` the most values a nested column's pages may
 * hold in all (--max-message-bytes over MIN_CELL_BYTES, as rows are bounded). Pages are decompressed with
 * boundedCompressors to read their levels and indices (hyparquet decompresses them again).
 */
export function checkChunkPages(
  bytes: Uint8Array, meta: ColumnMetaData, column: PageColumn, rows: number, maxValues: number,
): void {
  const what = `column "${column.name}"`;
  const reader: DataReader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
  const declaredDecoded = Number(meta.total_uncompressed_size);
  const valueLimit = column.flat ? rows : Math.min(Number(meta.num_values), maxValues);
  let decoded = 0;
  let values = 0;
  // As hyparquet's readColumn: a flat column's pages until its rows are read, a nested one's to the chunk's end.
  while (column.flat ? values < rows : reader.offset < bytes.length - 1) {
    if (reader.offset >= bytes.length) corrupt(`${what}: the chunk ended after ${values} of ${rows} values`);
    const header = parquetHeader(reader);
    const compressed = header.compressed_page_size;
    const uncompressed = header.uncompressed_page_size;
    if (!(Number.isSafeInteger(compressed) && compressed >= 0 && compressed <= bytes.length - reader.offset)) corrupt(`${what}: a page of ${compressed} bytes where its chunk has ${bytes.length - reader.offset} left`);
    if (!(Number.isSafeInteger(uncompressed) && uncompressed >= 0)) corrupt(`${what}: a page declares ${uncompressed} bytes decoded`);
    decoded += uncompressed;
    if (decoded > declaredDecoded) corrupt(`${what}: its pages declare more than the ${declaredDecoded} bytes decoded its chunk declares`);
    const start = reader.offset;
    const page = bytes.subarray(start, start + compressed);
    reader.offset += compressed;
    const type = header.type as string;
    if (type === 'DICTIONARY_PAGE') {
      const count = header.dictionary_page_header?.num_values;
      if (count === undefined) corrupt(`${what}: a dictionary page without its header`);
      if (uncompressed > expandsTo(meta.codec, compressed)) corrupt(`${what}: a dictionary page of ${compressed} bytes declares ${uncompressed} decoded, more than ${meta.codec} can make of them`);
      if (!(Number.isSafeInteger(count) && count! >= 0 && count! * plainBits(column.type, column.typeLength) <= uncompressed * 8)) {
        corrupt(`${what}: a dictionary page declares ${count} values in ${uncompressed} bytes`);
      }
    } else if (type === 'DATA_PAGE') {
      const daph = header.data_page_header;
      if (!daph) return corrupt(`${what}: a data page without its header`);
      const count = daph.num_values;
      if (!(Number.isSafeInteger(count) && count >= 0 && count <= valueLimit - values)) corrupt(`${what}: a data page declares ${count} values where ${valueLimit - values} are left`);
      if (uncompressed > expandsTo(meta.codec, compressed)) corrupt(`${what}: a data page of ${compressed} bytes declares ${uncompressed} decoded, more than ${meta.codec} can make of them`);
      values += count;
      const plain = meta.codec === 'UNCOMPRESSED' ? page : boundedDecompress(page, uncompressed, meta.codec, what);
      const inner: DataReader = { view: new DataView(plain.buffer, plain.byteOffset, plain.byteLength), offset: 0 };
      const end = plain.length;
      if (column.maxRepetitionLevel > 0) checkPrefixedHybrid(inner, end, bitWidth(column.maxRepetitionLevel), count, `${what}: repetition levels`);
      const present = column.maxDefinitionLevel > 0
        ? checkPrefixedHybrid(inner, end, bitWidth(column.maxDefinitionLevel), count, `${what}: definition levels`, column.maxDefinitionLevel)
        : count;
      checkValues(inner, end, daph.encoding, present, column, what, true);
    } else if (type === 'DATA_PAGE_V2') {
      const v2 = header.data_page_header_v2;
      if (!v2) return corrupt(`${what}: a data page (v2) without its header`);
      const { num_values: count, num_nulls: nulls, num_rows: pageRows, definition_levels_byte_length: defBytes, repetition_levels_byte_length: repBytes } = v2;
      if (!(Number.isSafeInteger(count) && count >= 0 && count <= valueLimit - values)) corrupt(`${what}: a data page declares ${count} values where ${valueLimit - values} are left`);
      if (!(Number.isSafeInteger(nulls) && nulls >= 0 && nulls <= count)) corrupt(`${what}: a data page declares ${nulls} nulls in ${count} values`);
      if (!(Number.isSafeInteger(pageRows) && pageRows >= 0 && pageRows <= count)) corrupt(`${what}: a data page declares ${pageRows} rows in ${count} values`);
      if (!(Number.isSafeInteger(defBytes) && Number.isSafeInteger(repBytes) && defBytes >= 0 && repBytes >= 0 && defBytes + repBytes <= Math.min(compressed, uncompressed))) {
        corrupt(`${what}: a data page declares ${repBytes} + ${defBytes} bytes of levels in ${compressed} bytes`);
      }
      values += count;
      const levels: DataReader = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
      if (column.maxRepetitionLevel > 0) checkHybrid(levels, repBytes, bitWidth(column.maxRepetitionLevel), count, `${what}: repetition levels`);
      levels.offset = repBytes;
      if (column.maxDefinitionLevel > 0) checkHybrid(levels, repBytes + defBytes, bitWidth(column.maxDefinitionLevel), count, `${what}: definition levels`);
      const rest = page.subarray(repBytes + defBytes);
      const restDecoded = uncompressed - repBytes - defBytes;
      const compressedValues = v2.is_compressed !== false && restDecoded > 0;
      if (compressedValues && restDecoded > expandsTo(meta.codec, rest.length)) corrupt(`${what}: a data page of ${rest.length} bytes of values declares ${restDecoded} decoded, more than ${meta.codec} can make of them`);
      const plain = compressedValues && meta.codec !== 'UNCOMPRESSED' ? boundedDecompress(rest, restDecoded, meta.codec, what) : rest;
      const inner: DataReader = { view: new DataView(plain.buffer, plain.byteOffset, plain.byteLength), offset: 0 };
      checkValues(inner, plain.length, v2.encoding, count - nulls, column, what, false);
    } else {
      // hyparquet refuses any other page type by name.
      return;
    }
  }
}

/** A page decompressed as hyparquet will (its length checked as hyparquet does), a failure naming the column. */
function boundedDecompress(page: Uint8Array, length: number, codec: CompressionCodec, what: string): Uint8Array {
  const decompress = boundedCompressors[codec];
  if (!decompress) return corrupt(`${what}: the ${codec} codec is not supported`);
  let out: Uint8Array;
  try {
    out = decompress(page, length);
  } catch (error) {
    return corrupt(`${what}: ${(error as Error).message ?? String(error)}`);
  }
  if (out.length !== length) corrupt(`${what}: a ${codec} page decompressed to ${out.length} bytes, its header declares ${length}`);
  return out;
}

/** A data page's `count` values after its levels, as far as hyparquet would allocate or loop from them. */
function checkValues(reader: DataReader, end: number, encoding: string, count: number, column: PageColumn, what: string, v1: boolean): void {
  const left = end - reader.offset;
  switch (encoding) {
    case 'PLAIN':
      if (count * plainBits(column.type, column.typeLength) > left * 8) corrupt(`${what}: a page declares ${count} PLAIN values in ${left} bytes`);
      return;
    case 'PLAIN_DICTIONARY': case 'RLE_DICTIONARY': case 'RLE': {
      if (column.type === 'BOOLEAN') {
        // RLE booleans: a length-prefixed stream of 1-bit values.
        checkPrefixedHybrid(reader, end, 1, count, `${what}: values`);
        return;
      }
      if (left < 1) corrupt(`${what}: a dictionary-encoded page without its bit width`);
      const width = reader.view.getUint8(reader.offset++);
      // hyparquet's v1 reader makes an array of zeros for width 0; its v2 reader walks the runs anyway.
      if (width > 0 || !v1) checkHybrid(reader, end, width, count, `${what}: dictionary indices`);
      return;
    }
    case 'BYTE_STREAM_SPLIT':
      if (count * (plainBits(column.type, column.typeLength) / 8) > left) corrupt(`${what}: a page declares ${count} BYTE_STREAM_SPLIT values in ${left} bytes`);
      return;
    case 'DELTA_BINARY_PACKED': case 'DELTA_LENGTH_BYTE_ARRAY':
      if (count > 0) checkDeltaHeader(reader, end, `${what}: values`);
      return;
    case 'DELTA_BYTE_ARRAY':
      if (count > 0) checkDeltaByteArray(reader, end, count, `${what}: values`);
      return;
    default:
      // Anything else hyparquet refuses by name, or decodes within the page's bytes.
      return;
  }
}

