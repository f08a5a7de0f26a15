/**
 * The checks on what Parquet pages declare (src/codecs/parquet-page-check.ts), against independent
 * writers: files from parquet-wasm (arrow-rs) in every codec, v1 and v2 pages, with strings, nulls,
 * int64 and booleans read back through openParquet exactly as written (so the checks
 * refuse nothing a writer makes); the bounded decompressors on streams from node's zlib (brotli) and
 * hyparquet-writer (snappy) and on hand-made zstd frames; the hybrid-run walker on hand-made runs. The
 * hostile files through `vireo batch`: test/e2e/batch-hardening-parquet-pages.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm/node';
import { openParquet } from '../../../src/codecs/columnar-files.js';
import { boundedCompressors } from '../../../src/codecs/parquet-bounded-decompressors.js';
import { checkHybrid } from '../../../src/codecs/parquet-page-check.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-parquet-pages-'));
after(() => rm(dir, { recursive: true, force: true }));

const ROWS = 2500;
const strings = Array.from({ length: ROWS }, (_, r) => (r % 7 === 3 ? null : `row-${(r * 7919) % 1000}`));
const longs = Array.from({ length: ROWS }, (_, r) => BigInt(r) * 3_000_000_000n - 5n);
const flags = Array.from({ length: ROWS }, (_, r) => (r % 5 === 0 ? null : r % 3 === 0));
const floats = Array.from({ length: ROWS }, (_, r) => (r % 11 === 0 ? null : Math.fround(r / 8 - 100)));

function wasmFile(compression: Compression, version: WriterVersion): Uint8Array {
  const table = new Table({ s: vectorFromArray(strings), n: vectorFromArray(longs), b: vectorFromArray(flags), f: vectorFromArray(floats) });
  const properties = new WriterPropertiesBuilder().setWriterVersion(version).setCompression(compression)
    .setMaxRowGroupSize(1000).setDataPageSizeLimit(512).setWriteBatchSize(64).setDictionaryPageSizeLimit(1024).build();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), properties);
}

describe('Parquet page checks', () => {
  for (const [codecName, compression] of [['none', Compression.UNCOMPRESSED], ['snappy', Compression.SNAPPY], ['gzip', Compression.GZIP], ['brotli', Compression.BROTLI], ['lz4_raw', Compression.LZ4_RAW], ['zstd', Compression.ZSTD]] as const) {
    for (const [versionName, version] of [['v1', WriterVersion.V1], ['v2', WriterVersion.V2]] as const) {
      it(`parquet-wasm, ${versionName} pages, ${codecName}: strings, int64, booleans and floats with nulls read as written`, async () => {
        const path = join(dir, `${codecName}-${versionName}.parquet`);
        await writeFile(path, wasmFile(compression, version));
        const file = await openParquet(path);
        const got: Record<string, unknown[]> = { s: [], n: [], b: [], f: [] };
        for (let g = 0; g < file.rowGroups; g++) {
          const chunk = await file.read(g);
          for (const name of Object.keys(got)) got[name]!.push(...Array.from(chunk.columns.get(name)!));
        }
        assert.deepEqual(got.s, strings);
        assert.deepEqual(got.n, longs);
        assert.deepEqual(got.b, flags);
        assert.deepEqual(got.f, floats);
      });
    }
  }

  it('brotli: a stream decodes as zlib encoded it; one making more than its page declares stops at the declared size', () => {
    const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) % 251);
    assert.deepEqual(Array.from(boundedCompressors.BROTLI!(brotliCompressSync(data), data.length)), Array.from(data));
    const bomb = brotliCompressSync(new Uint8Array(64 * 1024 * 1024));
    assert.ok(bomb.length < 10_000);
    assert.throws(() => boundedCompressors.BROTLI!(bomb, 1000), /larger than|too large|1000/i);
  });

  it('snappy: a stream decodes as hyparquet-writer encoded it; a page header that disagrees with the stream\'s own length is refused', () => {
    const data = Uint8Array.from({ length: 3000 }, (_, i) => (i % 17) * 3);
    const packed = snappyCompress(data);
    assert.deepEqual(Array.from(boundedCompressors.SNAPPY!(packed, data.length)), Array.from(data));
    assert.throws(() => boundedCompressors.SNAPPY!(packed, 2_000_000_000), /SNAPPY page's stream declares 3000 bytes, its page header 2000000000/);
    assert.throws(() => boundedCompressors.SNAPPY!(packed, -1), /declares -1 bytes/);
  });

  it('zstd: a frame without a declared size decodes into exactly the page\'s size; sizes its blocks cannot make, or several such frames, are refused', () => {
    const body = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const block = (last: boolean, type: number, size: number) => [((size & 0x1f) << 3) | (type << 1) | (last ? 1 : 0), (size >> 5) & 0xff, (size >> 13) & 0xff];
    const unsized = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50, ...block(true, 0, body.length), ...body];
    assert.deepEqual(Array.from(boundedCompressors.ZSTD!(Uint8Array.from(unsized), body.length)), Array.from(body));
    // Raw block plus an RLE block: 300 + 1000 bytes, in one frame.
    const two = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50, ...block(false, 0, body.length), ...body, ...block(true, 1, 1000), 7];
    const out = boundedCompressors.ZSTD!(Uint8Array.from(two), 1300);
    assert.deepEqual([Array.from(out.subarray(0, 300)), out.subarray(300).every((v) => v === 7), out.length], [Array.from(body), true, 1300]);
    assert.throws(() => boundedCompressors.ZSTD!(Uint8Array.from(two), 1_000_000), /blocks make 1300 bytes, its page header declares 1000000/);
    assert.throws(() => boundedCompressors.ZSTD!(Uint8Array.from([...unsized, ...unsized]), 600), /several frames without a declared size/);
    // A frame declaring a content size of 0 in a 4-byte field (fzstd takes it for none): decoded as one without.
    const zeroSized = [0x28, 0xb5, 0x2f, 0xfd, 0x80, 0x50, 0, 0, 0, 0, ...block(true, 0, body.length), ...body];
    assert.deepEqual(Array.from(boundedCompressors.ZSTD!(Uint8Array.from(zeroSized), body.length)), Array.from(body));
    // A single-segment frame declaring 2^30 bytes (4-byte content size) with one raw block of 300.
    const big = [0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 0x40, ...block(true, 0, body.length), ...body];
    assert.throws(() => boundedCompressors.ZSTD!(Uint8Array.from(big), 300), /declare 1073741824 bytes decompressed, more than the 300/);
  });

  it('hybrid runs: runs within the values are walked and counted; a longer RLE run, a huge bit-packed run of width 0 and a run past the bytes are refused', () => {
    const reader = (bytes: number[]) => ({ view: new DataView(Uint8Array.from(bytes).buffer), offset: 0 });
    // RLE 5 × 1, then one bit-packed group of 8 at width 1 (values 1,0,1,0,…): 5 + 2 ones of the 7 left.
    assert.equal(checkHybrid(reader([10, 1, 3, 0b01010101]), 4, 1, 12, 'levels', 1), 5 + 4);
    assert.throws(() => checkHybrid(reader([12, 1]), 2, 1, 5, 'levels'), /an RLE run of 6 values where 5 are left/);
    // Bit-packed header (2^26 groups << 1) | 1 at width 0: 2^29 values where 4 are left.
    assert.throws(() => checkHybrid(reader([0x81, 0x80, 0x80, 0x40]), 4, 0, 4, 'indices'), /bit-packed run of 536870912 values where 4 are left/);
    assert.throws(() => checkHybrid(reader([3]), 1, 8, 8, 'indices'), /reaches past its bytes/);
  });
});
