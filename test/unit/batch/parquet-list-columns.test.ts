/**
 * The LIST fast path of the Parquet reader (src/codecs/parquet-list-columns.ts) on files from two
 * independent writers — parquet-wasm (arrow-rs: v1 and v2 pages, every codec, dictionary pages and their
 * PLAIN fallback, several pages and row groups; FLOAT, DOUBLE, INT32) and hyparquet-writer (v2, snappy)
 * — and on files written page by page here (the legacy two-level layout; hostile levels and counts).
 * Each case that must take the fast path asserts it did (a ListColumn, and listFastPath's count) and that
 * the rows hold exactly the lists written; a chunk with a null list, a null element or an empty list is
 * left to hyparquet (plain arrays, as before). Expected values are the ones written.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Field, Float32, Float64, Int32, Int8, List, Utf8, Table, tableToIPC, vectorFromArray, type DataType } from 'apache-arrow';
import { parquetMetadata, parquetReadObjects, type FileMetaData, type PageHeader } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm/node';
import { openParquet } from '../../../src/codecs/columnar-files.js';
import { ListColumn } from '../../../src/codecs/list-column.js';
import { listFastPath, listNumericColumns } from '../../../src/codecs/parquet-list-columns.js';
import { VireoError } from '../../../src/core/errors.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-parquet-lists-'));
after(() => rm(dir, { recursive: true, force: true }));

const ROWS = 1200;
/** Lists of 1–9 values; `distinct` many values (dictionaries overflow to PLAIN) or few (they hold). */
const lists = (distinct: boolean, int: boolean) => Array.from({ length: ROWS }, (_, r) => Array.from({ length: (r % 9) + 1 }, (_, i) => {
  const v = distinct ? ((r * 7919 + i * 104729) % 100_003) / 64 - 700 : ((r + i) % 5) - 2;
  return int ? Math.round(v * 8) : v;
}));

let n = 0;
/** Every row group of the file through openParquet: the `emb` cells as JS values, and whether each group's came as a ListColumn. */
async function readBack(bytes: Uint8Array): Promise<{ rows: unknown[]; fast: boolean[]; chunks: number }> {
  const path = join(dir, `f${++n}.parquet`);
  await writeFile(path, bytes);
  const before = listFastPath.chunks;
  const file = await openParquet(path);
  const rows: unknown[] = [];
  const fast: boolean[] = [];
  for (let g = 0; g < file.rowGroups; g++) {
    const column = (await file.read(g)).columns.get('emb')!;
    fast.push(column instanceof ListColumn);
    rows.push(...Array.from(column as Iterable<unknown>));
  }
  return { rows, fast, chunks: listFastPath.chunks - before };
}

const metadataOf = (bytes: Uint8Array): FileMetaData => parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
/** The data page encodings of the file's chunks, to show what a case covers. */
const encodings = (bytes: Uint8Array) => new Set(metadataOf(bytes).row_groups.flatMap((g) => g.columns.flatMap((c) => (c.meta_data!.encoding_stats ?? []).map((s) => `${s.page_type} ${s.encoding}`))));

function wasmFile(data: unknown[], element: DataType, version: WriterVersion, compression: Compression, dictionary = true): Uint8Array {
  const table = new Table({ emb: vectorFromArray(data, new List(new Field('item', element, true))) });
  const properties = new WriterPropertiesBuilder().setWriterVersion(version).setCompression(compression).setDictionaryEnabled(dictionary)
    .setMaxRowGroupSize(500).setDataPageSizeLimit(1024).setWriteBatchSize(64).setDictionaryPageSizeLimit(2048).build();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), properties);
}

describe('Parquet LIST columns decoded without assembly', () => {
  const codecs = [['none', Compression.UNCOMPRESSED], ['snappy', Compression.SNAPPY], ['gzip', Compression.GZIP], ['brotli', Compression.BROTLI], ['lz4_raw', Compression.LZ4_RAW], ['zstd', Compression.ZSTD]] as const;
  for (const [label, version] of [['v1', WriterVersion.V1], ['v2', WriterVersion.V2]] as const) {
    for (const [codec, compression] of codecs) {
      it(`parquet-wasm, ${label} pages, ${codec}: FLOAT, DOUBLE, INT32; dictionary pages and PLAIN; several pages and row groups`, async () => {
        for (const [type, element, int] of [['FLOAT', new Float32(), false], ['DOUBLE', new Float64(), false], ['INT32', new Int32(), true]] as const) {
          for (const distinct of [false, true]) {
            const written = lists(distinct, int).map((l) => (type === 'FLOAT' ? l.map(Math.fround) : l));
            const bytes = wasmFile(written, element, version, compression);
            const pages = encodings(bytes);
            // arrow-rs falls back to DELTA_BINARY_PACKED for integers in v2 pages once a dictionary is full.
            const fallback = label === 'v2' && type === 'INT32' ? 'DELTA_BINARY_PACKED' : 'PLAIN';
            assert.ok(pages.has(`${label === 'v1' ? 'DATA_PAGE' : 'DATA_PAGE_V2'} ${distinct ? fallback : 'RLE_DICTIONARY'}`), `${type}, distinct ${distinct}: ${[...pages].join(', ')}`);
            const got = await readBack(bytes);
            assert.deepEqual(got.fast, [true, true, true], `${type}, distinct ${distinct}: each row group's chunk taken`);
            assert.equal(got.chunks, 3);
            assert.deepEqual(got.rows, written, `${type}, distinct ${distinct}`);
          }
        }
      });
    }
  }

  it('parquet-wasm without a dictionary (PLAIN pages only)', async () => {
    const written = lists(true, false);
    const got = await readBack(wasmFile(written, new Float64(), WriterVersion.V1, Compression.SNAPPY, false));
    assert.deepEqual([got.fast, got.rows], [[true, true, true], written]);
  });

  it('hyparquet-writer (v2, snappy): REQUIRED and OPTIONAL elements, several pages and row groups', async () => {
    for (const repetition of ['REQUIRED', 'OPTIONAL']) {
      const written = lists(true, false).map((l) => l.map(Math.fround));
      const schema = [
        { name: 'root', num_children: 1 },
        { name: 'emb', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', repetition_type: repetition, type: 'FLOAT' },
      ];
      const bytes = new Uint8Array(parquetWriteBuffer({ schema: schema as never, columnData: [{ name: 'emb', data: written as never }], rowGroupSize: 400, pageSize: 2000 }));
      assert.ok(metadataOf(bytes).row_groups.every((g) => g.columns[0]!.meta_data!.data_page_offset > 0n));
      const got = await readBack(bytes);
      assert.deepEqual(got.fast, [true, true, true], repetition);
      assert.deepEqual(got.rows, written, repetition);
    }
  });

  it('a chunk with a null list, a null element or an empty list is left to hyparquet; the others take the path', async () => {
    const written: ((number | null)[] | null)[] = lists(true, false);
    written[100] = null; // row group 0
    written[650] = [1, null, 3]; // row group 1
    written[1100] = []; // row group 2
    for (const version of [WriterVersion.V1, WriterVersion.V2]) {
      const withClean = [...written, ...lists(true, false).slice(0, 500)]; // row group 3 (rows 1500–1699) has none
      const got = await readBack(wasmFile(withClean, new Float64(), version, Compression.SNAPPY));
      assert.deepEqual(got.fast, [false, false, false, true], `version ${version}`);
      assert.deepEqual(got.rows, withClean, `version ${version}`);
    }
  });

  it('listNumericColumns: lists of FLOAT and INT32 without a logical type (not INT(8), strings or scalars)', () => {
    const table = new Table({
      f: vectorFromArray([[1]], new List(new Field('item', new Float32(), true))),
      s: vectorFromArray([['a']], new List(new Field('item', new Utf8(), true))),
      i: vectorFromArray([[1]], new List(new Field('item', new Int32(), true))),
      i8: vectorFromArray([[1]], new List(new Field('item', new Int8(), true))),
      n: vectorFromArray([1], new Float32()),
    });
    const bytes = writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')));
    assert.deepEqual([...listNumericColumns(metadataOf(bytes))], [['f', { type: 'FLOAT', maxDefinitionLevel: 3 }], ['i', { type: 'INT32', maxDefinitionLevel: 3 }]]);
  });
});

/** Page by page: one row group of `rows`, one column `emb` of the given schema elements below the root. */
function craftList(schema: object[], rows: number, pages: { header: PageHeader; body: number[] }[], numValues: number): Uint8Array {
  const w = new ByteWriter();
  w.appendUint32(0x31524150);
  const start = w.offset;
  let uncompressed = 0;
  for (const p of pages) {
    const at = w.offset;
    writePageHeader(w, p.header as never);
    uncompressed += w.offset - at + Math.max(0, p.header.uncompressed_page_size);
    w.appendBytes(Uint8Array.from(p.body));
  }
  const path = schema.map((e) => (e as { name: string }).name);
  const meta = {
    type: 'FLOAT', encodings: ['PLAIN', 'RLE'], path_in_schema: path, codec: 'UNCOMPRESSED', num_values: BigInt(numValues),
    total_uncompressed_size: BigInt(uncompressed), total_compressed_size: BigInt(w.offset - start), data_page_offset: BigInt(start),
  };
  writeMetadata(w, {
    version: 2, schema: [{ name: 'root', num_children: 1 }, ...schema], num_rows: BigInt(rows),
    row_groups: [{ columns: [{ file_offset: BigInt(start), meta_data: meta }], total_byte_size: BigInt(w.offset - 4), num_rows: BigInt(rows) }],
  } as never);
  w.appendUint32(0x31524150);
  return new Uint8Array(w.getBuffer());
}

const varint = (value: number): number[] => {
  const out: number[] = [];
  for (let v = value; ; v = Math.floor(v / 128)) {
    if (v < 128) return [...out, v];
    out.push((v % 128) | 128);
  }
};
const rle = (count: number, value: number) => [...varint(count * 2), value];
const prefixed = (runs: number[]) => [runs.length & 0xff, (runs.length >> 8) & 0xff, 0, 0, ...runs];
const floats = (values: number[]) => [...new Uint8Array(Float32Array.from(values).buffer)];
const v1 = (count: number, body: number[]) => ({
  header: { type: 'DATA_PAGE', uncompressed_page_size: body.length, compressed_page_size: body.length, data_page_header: { num_values: count, encoding: 'PLAIN', definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' } } as PageHeader,
  body,
});
const LEGACY = [{ name: 'emb', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 }, { name: 'array', repetition_type: 'REPEATED', type: 'FLOAT' }];
/** Rows of 3 values: levels for the legacy layout (definition 2 = a value present). */
const rowsOf3 = (rows: number) => [...prefixed(Array.from({ length: rows }, () => [...rle(1, 0), ...rle(2, 1)]).flat()), ...prefixed(rle(rows * 3, 2))];

describe('Parquet LIST columns written page by page', () => {
  it('the legacy two-level layout (`repeated float array`): taken, the rows hyparquet assembles', async () => {
    const values = Array.from({ length: 12 }, (_, i) => i / 4 - 1);
    const bytes = craftList(LEGACY, 4, [v1(12, [...rowsOf3(4), ...floats(values)])], 12);
    const expected = [0, 1, 2, 3].map((r) => values.slice(r * 3, r * 3 + 3));
    assert.deepEqual((await parquetReadObjects({ file: bytes.buffer as ArrayBuffer })).map((o) => o.emb), expected, 'hyparquet reads the crafted file so');
    const got = await readBack(bytes);
    assert.deepEqual([got.fast, got.rows], [[true], expected]);
  });

  const refused = async (bytes: Uint8Array, pattern: RegExp) => {
    const path = join(dir, `hostile-${++n}.parquet`);
    await writeFile(path, bytes);
    const before = listFastPath.chunks;
    await assert.rejects((await openParquet(path)).read(0), (error: VireoError) => {
      assert.equal(error.code, 'VIREO_ERR_BATCH_INPUT_INVALID');
      assert.match(error.message, /not a valid Parquet file or corrupt/);
      assert.match(error.message, pattern);
      return true;
    });
    assert.equal(listFastPath.chunks, before);
  };

  it('hostile: a repetition level run of 2^31−1 values, refused before anything is sized by it', async () => {
    const body = [...prefixed(rle(2 ** 31 - 1, 0)), ...prefixed(rle(12, 2)), ...floats(new Array(12).fill(1))];
    await refused(craftList(LEGACY, 4, [v1(12, body)], 12), /column "emb": repetition levels: an RLE run of 2147483647 values where 12 are left/);
  });

  it('hostile: a definition level run of 2^31−1 values', async () => {
    const body = [...prefixed(Array.from({ length: 4 }, () => [...rle(1, 0), ...rle(2, 1)]).flat()), ...prefixed(rle(2 ** 31 - 1, 2)), ...floats(new Array(12).fill(1))];
    await refused(craftList(LEGACY, 4, [v1(12, body)], 12), /column "emb": definition levels: an RLE run of 2147483647 values where 12 are left/);
  });

  it('hostile: a page claiming 2^31−1 values, and a bit-packed run of width 1 claiming 2^29', async () => {
    await refused(craftList(LEGACY, 4, [v1(2 ** 31 - 1, [...rowsOf3(4), ...floats(new Array(12).fill(1))])], 12), /a data page declares 2147483647 values where 12 are left/);
    const packed = [...prefixed([0x81, 0x80, 0x80, 0x40]), ...prefixed(rle(12, 2)), ...floats(new Array(12).fill(1))];
    await refused(craftList(LEGACY, 4, [v1(12, packed)], 12), /repetition levels: a bit-packed run of 536870912 values where 12 are left/);
  });

  it('hostile: levels beginning more rows than the row group holds, a level beyond the most, PLAIN values beyond the page', async () => {
    const manyRows = [...prefixed(rle(12, 0)), ...prefixed(rle(12, 2)), ...floats(new Array(12).fill(1))];
    await refused(craftList(LEGACY, 4, [v1(12, manyRows)], 12), /repetition levels begin more rows than the row group's 4/);
    const level3 = [...prefixed([...rle(1, 0), ...rle(11, 3)]), ...prefixed(rle(12, 2)), ...floats(new Array(12).fill(1))];
    await refused(craftList(LEGACY, 4, [v1(12, level3)], 12), /a repetition level of 3 where the column's most is 1/);
    await refused(craftList(LEGACY, 4, [v1(12, [...rowsOf3(4), ...floats([1, 2])])], 12), /a page declares 12 PLAIN values in 8 bytes/);
  });
});
