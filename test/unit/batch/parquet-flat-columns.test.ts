/**
 * The numeric fast path of the Parquet reader (parquet-flat-columns.ts) on files from two independent
 * writers: parquet-wasm (arrow-rs: v1 and v2 data pages, dictionary pages that fall back to PLAIN,
 * several pages per chunk, every codec) and hyparquet-writer (v2 pages, PLAIN and BYTE_STREAM_SPLIT).
 * Each case asserts the fast path took the column (a typed array, not undefined) and holds exactly the
 * values written; columns it must leave to hyparquet (a null, a logical type) answer undefined, and
 * openParquet still reads them as before. Expected values are the ones written.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Field, RecordBatch, Schema, Table, tableFromArrays, tableToIPC } from 'apache-arrow';
import { parquetMetadata, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { Compression, Encoding, Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet, type WriterProperties } from 'parquet-wasm/node';
import { openParquet } from '../../../src/codecs/columnar-files.js';
import { chunkRange, coalescedReads, flatNumericColumns, readFlatColumn } from '../../../src/codecs/parquet-flat-columns.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-parquet-flat-'));
after(() => rm(dir, { recursive: true, force: true }));

const ROWS = 3000;
// Few distinct values in `few` (a dictionary that holds), many in the others (dictionaries that overflow to PLAIN).
const written = {
  f: Float32Array.from({ length: ROWS }, (_, r) => Math.fround(((r * 7919) % 20011) / 997 - 10)),
  d: Float64Array.from({ length: ROWS }, (_, r) => ((r * 104729) % 30011) / 7 - 1e3 + 1e-9),
  i: Int32Array.from({ length: ROWS }, (_, r) => ((r * 2654435761) % 4_000_000_000) - 2_000_000_000 | 0),
  few: Float32Array.from({ length: ROWS }, (_, r) => (r % 5) - 2.5),
};

/** The fast path over every column chunk of `bytes`: per column, the row groups' values concatenated (or undefined where it declined). */
function readAll(bytes: Uint8Array): Map<string, (number[] | undefined)> {
  const metadata: FileMetaData = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  const flat = flatNumericColumns(metadata);
  const out = new Map<string, number[] | undefined>();
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      const name = chunk.meta_data!.path_in_schema.join('.');
      const [a, b] = chunkRange(chunk);
      const element = flat.get(name);
      const values = element && readFlatColumn(bytes.subarray(a, b), chunk, element, Number(group.num_rows), compressors);
      if (!values || (out.has(name) && out.get(name) === undefined)) out.set(name, undefined);
      else out.set(name, [...(out.get(name) ?? []), ...values]);
    }
  }
  return out;
}

/** A file from parquet-wasm: typed arrays become FLOAT, DOUBLE, INT32 (INT_8 for Int8Array) columns, plain arrays DOUBLE; all nullable (OPTIONAL). */
function wasmFile(properties: WriterProperties, columns: Record<string, ArrayLike<number | null>> = written as never): Uint8Array {
  const typed = tableFromArrays(columns as Record<string, Float32Array>);
  // Nullable fields, as pandas, Polars and Spark write them (tableFromArrays makes typed arrays non-nullable).
  const schema = new Schema(typed.schema.fields.map((f) => new Field(f.name, f.type, true)));
  const arrow = new Table(schema, typed.batches.map((b) => new RecordBatch(schema, b.data)));
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(arrow, 'stream')), properties);
}

/** Physical type and repetition of each column, to show what a case covers. */
function columnTypes(bytes: Uint8Array): Record<string, string> {
  const { schema } = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return Object.fromEntries(schema.slice(1).map((e) => [e.name, `${e.repetition_type} ${e.type}`]));
}

const asNumbers = (values: ArrayLike<number>) => Array.from(values);

describe('Parquet numeric columns decoded without assembly', () => {
  for (const [label, version] of [['v1 pages', WriterVersion.V1], ['v2 pages', WriterVersion.V2]] as const) {
    for (const [codec, compression] of [['snappy', Compression.SNAPPY], ['zstd', Compression.ZSTD], ['gzip', Compression.GZIP], ['none', Compression.UNCOMPRESSED]] as const) {
      it(`parquet-wasm, ${label}, ${codec}: dictionary pages, PLAIN fallback, several pages and row groups`, () => {
        const properties = new WriterPropertiesBuilder().setWriterVersion(version).setCompression(compression)
          .setMaxRowGroupSize(1100).setDataPageSizeLimit(1024).setWriteBatchSize(128).setDictionaryPageSizeLimit(2048).build();
        const bytes = wasmFile(properties);
        assert.deepEqual(columnTypes(bytes), { f: 'OPTIONAL FLOAT', d: 'OPTIONAL DOUBLE', i: 'OPTIONAL INT32', few: 'OPTIONAL FLOAT' });
        const got = readAll(bytes);
        for (const name of Object.keys(written) as (keyof typeof written)[]) {
          assert.ok(got.get(name), `${name}: taken by the fast path`);
          assert.deepEqual(got.get(name), asNumbers(written[name]), name);
        }
      });
    }
  }

  it('parquet-wasm, PLAIN and BYTE_STREAM_SPLIT without dictionary', () => {
    for (const encoding of [Encoding.PLAIN, Encoding.BYTE_STREAM_SPLIT]) {
      const properties = new WriterPropertiesBuilder().setDictionaryEnabled(false).setEncoding(encoding).setMaxRowGroupSize(1000).build();
      const got = readAll(wasmFile(properties, { f: written.f, d: written.d }));
      assert.deepEqual(got.get('f'), asNumbers(written.f), `encoding ${encoding}`);
      assert.deepEqual(got.get('d'), asNumbers(written.d), `encoding ${encoding}`);
    }
  });

  it('hyparquet-writer (v2 pages): OPTIONAL and REQUIRED columns, PLAIN and BYTE_STREAM_SPLIT', () => {
    const bytes = new Uint8Array(parquetWriteBuffer({
      columnData: [
        { name: 'f', data: written.f, type: 'FLOAT' },
        { name: 'd', data: written.d, type: 'DOUBLE', encoding: 'BYTE_STREAM_SPLIT' },
        { name: 'i', data: written.i, type: 'INT32', nullable: false },
      ],
      rowGroupSize: 700,
    }));
    const got = readAll(bytes);
    for (const name of ['f', 'd', 'i'] as const) assert.deepEqual(got.get(name), asNumbers(written[name]), name);
  });

  it('declines a chunk with a null, in v1 and v2 pages, and a column with a logical type', () => {
    const withNull = Array.from(written.d, (v, r) => (r === 1234 ? null : v));
    for (const version of [WriterVersion.V1, WriterVersion.V2]) {
      const got = readAll(wasmFile(new WriterPropertiesBuilder().setWriterVersion(version).setMaxRowGroupSize(ROWS).build(), { d: withNull, f: written.f }));
      assert.equal(got.get('d'), undefined, `version ${version}: the null's chunk is declined`);
      assert.deepEqual(got.get('f'), asNumbers(written.f));
    }
    // An Arrow Int8 column is INT32 with a logical type (INT(8)): hyparquet's conversion, not the fast path.
    const small = wasmFile(new WriterPropertiesBuilder().build(), { small: Int8Array.from({ length: 10 }, (_, r) => r - 5), f: written.f.subarray(0, 10) });
    const metadata = parquetMetadata(small.buffer.slice(small.byteOffset, small.byteOffset + small.byteLength) as ArrayBuffer);
    assert.equal(metadata.schema[1]!.type, 'INT32');
    assert.deepEqual([...flatNumericColumns(metadata).keys()], ['f']);
  });

  it('a truncated chunk is an error, not short or wrong values', () => {
    const bytes = wasmFile(new WriterPropertiesBuilder().setDictionaryEnabled(false).setCompression(Compression.UNCOMPRESSED).build(), { f: written.f });
    const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    const chunk = metadata.row_groups[0]!.columns[0]!;
    const [a, b] = chunkRange(chunk);
    assert.throws(() => readFlatColumn(bytes.subarray(a, b - 200), chunk, flatNumericColumns(metadata).get('f')!, ROWS, compressors), /reaches past its chunk/);
  });

  it('a page header claiming more bytes than its values can take is refused before anything is allocated', () => {
    const writer = new ByteWriter();
    writePageHeader(writer, {
      type: 'DATA_PAGE_V2', uncompressed_page_size: 2 ** 31 - 1, compressed_page_size: 16,
      data_page_header_v2: { num_values: 10, num_nulls: 0, num_rows: 10, encoding: 'PLAIN', definition_levels_byte_length: 0, repetition_levels_byte_length: 0, is_compressed: true },
    });
    writer.appendBytes(new Uint8Array(16));
    const chunk = { file_offset: 0n, meta_data: { type: 'FLOAT', encodings: ['PLAIN'], path_in_schema: ['f'], codec: 'SNAPPY', num_values: 10n, total_uncompressed_size: 0n, total_compressed_size: BigInt(writer.offset), data_page_offset: 0n } };
    const element = { name: 'f', type: 'FLOAT', repetition_type: 'OPTIONAL' } as const;
    assert.throws(() => readFlatColumn(new Uint8Array(writer.getBuffer()), chunk as never, element, 10, compressors), /claims 2147483647 bytes for 10 values/);
  });

  it('declines v1 definition levels in the deprecated BIT_PACKED layout (left to hyparquet)', () => {
    const writer = new ByteWriter();
    const body = new Uint8Array(2 + 10 * 4); // 10 levels as bits (2 bytes), then 10 floats
    writePageHeader(writer, {
      type: 'DATA_PAGE', uncompressed_page_size: body.length, compressed_page_size: body.length,
      data_page_header: { num_values: 10, encoding: 'PLAIN', definition_level_encoding: 'BIT_PACKED', repetition_level_encoding: 'RLE' },
    });
    writer.appendBytes(body);
    const chunk = { file_offset: 0n, meta_data: { type: 'FLOAT', encodings: ['PLAIN'], path_in_schema: ['f'], codec: 'UNCOMPRESSED', num_values: 10n, total_uncompressed_size: 0n, total_compressed_size: BigInt(writer.offset), data_page_offset: 0n } };
    const element = { name: 'f', type: 'FLOAT', repetition_type: 'OPTIONAL' } as const;
    assert.equal(readFlatColumn(new Uint8Array(writer.getBuffer()), chunk as never, element, 10, compressors), undefined);
  });

  it('openParquet: fast columns typed, a chunk with a null as JS values, every value as written', async () => {
    const withNull = Array.from(written.d, (v, r) => (r === 10 ? null : v));
    const path = join(dir, 'mixed.parquet');
    await writeFile(path, wasmFile(new WriterPropertiesBuilder().setMaxRowGroupSize(1000).build(), { f: written.f, d: withNull }));
    const file = await openParquet(path);
    const f: number[] = [];
    const d: unknown[] = [];
    for (let group = 0; group < file.rowGroups; group++) {
      const chunk = await file.read(group);
      assert.ok(chunk.columns.get('f') instanceof Float32Array, `group ${group}: f typed`);
      assert.equal(ArrayBuffer.isView(chunk.columns.get('d')), group !== 0, `group ${group}: d typed unless it holds the null`);
      f.push(...(chunk.columns.get('f') as unknown as number[]));
      d.push(...Array.from(chunk.columns.get('d')!));
    }
    assert.deepEqual(f, asNumbers(written.f));
    assert.deepEqual(d, withNull);
  });

  it('coalescedReads: neighbouring chunks share a read, a far one gets its own, each range in exactly one', () => {
    const ranges: [number, number][] = [[5000, 6000], [100, 900], [950, 2000], [2000, 2100], [9000, 9500]];
    assert.deepEqual(coalescedReads(ranges, 100), [
      { start: 100, end: 2100, members: [1, 2, 3] },
      { start: 5000, end: 6000, members: [0] },
      { start: 9000, end: 9500, members: [4] },
    ]);
    assert.deepEqual(coalescedReads(ranges, 0).map((r) => r.members), [[1], [2, 3], [0], [4]], 'touching chunks still share');
    assert.deepEqual(coalescedReads(ranges, 1e9), [{ start: 100, end: 9500, members: [1, 2, 3, 0, 4] }]);
    assert.deepEqual(coalescedReads([], 10), []);
  });

  it('openParquet: numeric columns on both sides of a large text column, each read as written', async () => {
    // ≈ 1.5 MB of text between the numeric chunks: beyond the gap that shares a read.
    const text = Array.from({ length: ROWS }, (_, r) => `row ${r} `.padEnd(500, String.fromCharCode(97 + (r % 26))));
    const arrow = tableFromArrays({ f: written.f, text, d: written.d });
    const schema = new Schema(arrow.schema.fields.map((field) => new Field(field.name, field.type, true)));
    const table = new Table(schema, arrow.batches.map((b) => new RecordBatch(schema, b.data)));
    const path = join(dir, 'text-between.parquet');
    await writeFile(path, writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), new WriterPropertiesBuilder().setCompression(Compression.UNCOMPRESSED).setDictionaryEnabled(false).build()));
    const metadata = parquetMetadata((await readFile(path)).buffer as ArrayBuffer);
    const [f, t, d] = metadata.row_groups[0]!.columns.map(chunkRange);
    assert.ok(f![1] <= t![0] && t![1] <= d![0] && d![0] - f![1] > 1_000_000, `text chunk between the numeric ones: ${JSON.stringify([f, t, d])}`);
    const file = await openParquet(path);
    const chunk = await file.read(0);
    assert.ok(chunk.columns.get('f') instanceof Float32Array && chunk.columns.get('d') instanceof Float64Array);
    assert.deepEqual(Array.from(chunk.columns.get('f') as unknown as Float32Array), asNumbers(written.f));
    assert.deepEqual(Array.from(chunk.columns.get('d') as unknown as Float64Array), asNumbers(written.d));
    assert.deepEqual(Array.from(chunk.columns.get('text')!), text);
  });
});
