/**
 * `vireo batch` over Parquet files whose pages declare what their bytes do not hold
 * (src/codecs/parquet-page-check.ts): each is refused on one line naming the column and what is wrong,
 * exit 3 (VIREO_ERR_BATCH_INPUT_INVALID), in time, before hyparquet allocates or loops by the declared
 * size. Before the check, the RLE runs made the process run out of heap (a 493-byte file), the zstd and
 * DELTA_BYTE_ARRAY pages allocated hundreds of megabytes to gigabytes, and the snappy and zstd pages
 * were taken at their declared size. The files are written page by page (test/helpers/parquet-craft.ts):
 * four REQUIRED float feature columns for the example `tabular` model and an OPTIONAL string `id`
 * column carried with --id-column, 4 rows; the controls (the same files with honest pages, and a zstd
 * page whose frame declares no size) run every row with the ids expected.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { PageHeader, SchemaElement } from 'hyparquet';
import { craftParquet, floatPage, page, prefixed, rleRun, stringPage, varint, type CraftedColumn, type CraftedPage } from '../helpers/parquet-craft.js';

const root = join(import.meta.dirname, '..', '..');
const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const ROWS = 4;
const IDS = ['a', 'b', 'c', 'd'];
const LIMIT_MS = 60_000;
let dir: string;
let repo: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-parquet-pages-'));
  repo = join(dir, 'models');
  await mkdir(repo);
  await symlink(join(root, 'examples', 'models', 'tabular'), join(repo, 'tabular'));
});
after(() => rm(dir, { recursive: true, force: true }));

const ID: SchemaElement = { name: 'id', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL', converted_type: 'UTF8' };
const features = (): CraftedColumn[] => FEATURES.map((name, k) => ({ element: { name, type: 'FLOAT', repetition_type: 'REQUIRED' }, pages: [floatPage([1 + k, 2 + k, 3 + k, 4 + k])] }));
const v1 = (count: number, encoding: PageHeader['data_page_header'] extends infer H ? H extends { encoding: infer E } ? E : never : never = 'PLAIN'): Pick<PageHeader, 'type' | 'data_page_header'> => ({
  type: 'DATA_PAGE', data_page_header: { num_values: count, encoding, definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' },
});
/** PLAIN strings, length-prefixed. */
const plainStrings = (values: string[]) => values.flatMap((v) => [v.length, 0, 0, 0, ...Buffer.from(v)]);
const le32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
/** A zstd block header: last flag, type (0 raw, 1 RLE, 2 compressed), size (21 bits). */
const zstdBlock = (last: boolean, type: number, size: number) => [((size & 0x1f) << 3) | (type << 1) | (last ? 1 : 0), (size >> 5) & 0xff, (size >> 13) & 0xff];

/** A file of the features and an `id` column of `pages` (its codec, values and declared decoded size as given). */
function idFile(pages: CraftedPage[], extra: Partial<CraftedColumn> = {}): Buffer {
  return craftParquet(ROWS, [...features(), { element: ID, pages, ...extra }]);
}

/**
 * DELTA_BINARY_PACKED of four int32 values as one block of 128 values in 4 miniblocks: `first`, then
 * `deltas` (three) stored as `minDelta` + what `widthOf` bits of each miniblock-0 value hold.
 */
function deltaPacked(first: number, deltas: number[]): number[] {
  const minDelta = Math.min(...deltas);
  const adjusted = deltas.map((d) => d - minDelta);
  const width = Math.max(0, ...adjusted.map((d) => 32 - Math.clz32(d)));
  const zigzag = (n: number) => varint(n >= 0 ? 2 * n : -2 * n - 1);
  const bits = new Uint8Array((32 * width) / 8);
  adjusted.forEach((value, i) => {
    for (let b = 0; b < width; b++) if ((value >>> b) & 1) bits[(i * width + b) >> 3]! |= 1 << ((i * width + b) & 7);
  });
  return [...varint(128), ...varint(4), ...varint(ROWS), ...zigzag(first), ...zigzag(minDelta), width, 0, 0, 0, ...bits];
}

interface Run { code: number | null; killed: boolean; stdout: string; stderr: string; ms: number }

function vireoBatch(input: string, output: string): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['--max-old-space-size=512', join(root, 'bin', 'vireo.js'), 'batch', '--model-repository', repo, '--model', 'tabular', '--input', input, '--output', output,
      '--input-format', 'parquet', '--output-format', 'csv', '--id-column', 'id', '--progress', 'none'],
    { timeout: LIMIT_MS, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const failure = error as { code?: number; killed?: boolean } | null;
      resolve({ code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0, killed: Boolean(failure?.killed), stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

const said = (run: Run) => run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{') && !l.includes('ExperimentalWarning') && !l.includes('--trace-warnings'));

let n = 0;
async function runFile(bytes: Buffer): Promise<{ run: Run; output: string }> {
  const input = join(dir, `case-${++n}.parquet`);
  const output = join(dir, `out-${n}`);
  await writeFile(input, bytes);
  return { run: await vireoBatch(input, output), output };
}

async function assertRefused(bytes: Buffer, pattern: RegExp, what: string): Promise<void> {
  const { run } = await runFile(bytes);
  assert.ok(!run.killed, `${what}: killed after ${Math.round(run.ms)} ms`);
  assert.equal(run.code, 3, `${what}: exit ${run.code}\n${run.stderr.slice(-2000)}`);
  assert.doesNotMatch(run.stderr, /\n\s+at |FATAL ERROR|out of memory|Invalid typed array length|Invalid array length|allocation failed/, `${what}: a crash or an allocation\n${run.stderr.slice(-2000)}`);
  const lines = said(run);
  assert.equal(lines.length, 1, `${what}: ${lines.join('\n')}`);
  assert.match(lines[0]!, /^vireo batch: .*case-\d+\.parquet: .*\(VIREO_ERR_BATCH_INPUT_INVALID\)$/, what);
  assert.match(lines[0]!, pattern, what);
}

async function assertRan(bytes: Buffer, expected: string[], what: string): Promise<void> {
  const { run, output } = await runFile(bytes);
  assert.equal(run.code, 0, `${what}: ${run.stderr.slice(-2000)}`);
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { rows: number; errors: number };
  assert.deepEqual([summary.rows, summary.errors], [ROWS, 0], what);
  const parts = (await readdir(join(output, 'parts'))).filter((f) => f.endsWith('.csv'));
  const csv = (await Promise.all(parts.map((p) => readFile(join(output, 'parts', p), 'utf8')))).join('');
  const ids = csv.trim().split('\n').slice(1).map((line) => line.split(',')[1]);
  assert.deepEqual(ids, expected, what);
}

it('controls: the same files with honest pages run every row (PLAIN, dictionary, DELTA_BYTE_ARRAY, zstd without a declared frame size)', async () => {
  await assertRan(idFile([stringPage(IDS)]), IDS, 'PLAIN strings');
  const dictionary = page({ type: 'DICTIONARY_PAGE', dictionary_page_header: { num_values: 4, encoding: 'PLAIN' } }, plainStrings(IDS));
  // Indices 0..3 at width 2 as one bit-packed group of 8 (the last four padding).
  await assertRan(idFile([dictionary, page(v1(ROWS, 'RLE_DICTIONARY'), [...prefixed(rleRun(ROWS, 1)), 2, ...varint(3), 0b11100100, 0])]), IDS, 'dictionary-encoded strings');
  // a, ab, abc, abcd: prefixes 0, 1, 2, 3 and suffixes of one byte each.
  await assertRan(idFile([page(v1(ROWS, 'DELTA_BYTE_ARRAY'), [...prefixed(rleRun(ROWS, 1)), ...deltaPacked(0, [1, 1, 1]), ...deltaPacked(1, [0, 0, 0]), ...Buffer.from('abcd')])]), ['a', 'ab', 'abc', 'abcd'], 'DELTA_BYTE_ARRAY');
  // The PLAIN page's bytes as one raw block of a zstd frame that declares no content size (window 1 MiB).
  const plain = stringPage(IDS).body;
  const frame = [...ZSTD_MAGIC, 0x00, 0x50, ...zstdBlock(true, 0, plain.length), ...plain];
  await assertRan(idFile([page({ ...v1(ROWS), uncompressed_page_size: plain.length }, frame)], { codec: 'ZSTD' }), IDS, 'zstd, no declared frame size');
});

it('an RLE run of 2^31−1 definition levels in a 493-byte file: refused (it ran the process out of heap)', async () => {
  await assertRefused(idFile([page(v1(ROWS), [...prefixed(rleRun(2 ** 31 - 1, 1)), ...plainStrings(IDS)])]), /column "id": definition levels: an RLE run of 2147483647 values where 4 are left/, 'levels');
});

it('an RLE run of 2^31−1 dictionary indices: refused (it ran the process out of heap)', async () => {
  const dictionary = page({ type: 'DICTIONARY_PAGE', dictionary_page_header: { num_values: 1, encoding: 'PLAIN' } }, plainStrings(['a']));
  await assertRefused(idFile([dictionary, page(v1(ROWS, 'RLE_DICTIONARY'), [...prefixed(rleRun(ROWS, 1)), 1, ...rleRun(2 ** 31 - 1, 0)])]), /column "id": dictionary indices: an RLE run of 2147483647 values where 4 are left/, 'indices');
});

it('a data page of a float feature column claiming 2^31−1 values: refused before its levels are sized', async () => {
  const columns = features();
  columns[0] = {
    element: { name: 'sepal_length', type: 'FLOAT', repetition_type: 'OPTIONAL' },
    pages: [page(v1(2 ** 31 - 1), [...prefixed(rleRun(ROWS, 1)), ...new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer)])],
  };
  await assertRefused(craftParquet(ROWS, [...columns, { element: ID, pages: [stringPage(IDS)] }]), /sepal_length: a page claims 2147483647 values where 4 of the chunk's 4 are left/, 'flat column');
});

it('a snappy page of a few bytes declaring 1.5 GB decoded (within the footer\'s): refused before the decompressor grows to it', async () => {
  const body = [...varint(1_500_000_000), 0x00, 0x61];
  await assertRefused(idFile([page({ ...v1(ROWS), uncompressed_page_size: 1_500_000_000 }, body)], { codec: 'SNAPPY', uncompressed: 1_500_001_000 }),
    /column "id": a data page of 7 bytes declares 1500000000 decoded, more than SNAPPY can make of them/, 'snappy');
});

it('a zstd frame declaring 1.5 GB with one 4-byte RLE block: refused before fzstd allocates it', async () => {
  const frame = [...ZSTD_MAGIC, 0xa0, ...le32(1_500_000_000), ...zstdBlock(true, 1, 4), 0x61];
  await assertRefused(idFile([page({ ...v1(ROWS), uncompressed_page_size: 1_500_000_000 }, frame)], { codec: 'ZSTD', uncompressed: 1_500_001_000 }),
    /column "id": .*a ZSTD page's blocks make 4 bytes, its page header declares 1500000000/, 'zstd declared');
});

it('a zstd frame without a declared size of 100 RLE blocks of 2 MiB (210 MB from 412 bytes) in a page declaring 100: refused before fzstd decodes it', async () => {
  const size = 2 ** 21 - 1;
  const blocks = Array.from({ length: 100 }, (_, i) => [...zstdBlock(i === 99, 1, size), 0x61]).flat();
  const frame = [...ZSTD_MAGIC, 0x00, 0x60, ...blocks];
  await assertRefused(idFile([page({ ...v1(ROWS), uncompressed_page_size: 100 }, frame)], { codec: 'ZSTD' }),
    /column "id": .*a ZSTD page's blocks make 209715100 bytes, its page header declares 100/, 'zstd bomb');
});

it('DELTA_BYTE_ARRAY prefixes of 128 MiB each (longer than the value before): refused before a value is allocated', async () => {
  const prefixes = deltaPacked(0, [2 ** 27, 0, 0]);
  const suffixes = deltaPacked(1, [-1, 0, 0]);
  await assertRefused(idFile([page(v1(ROWS, 'DELTA_BYTE_ARRAY'), [...prefixed(rleRun(ROWS, 1)), ...prefixes, ...suffixes, 0x61])]),
    /column "id": values: value 1 has a prefix of 134217728 bytes \(the value before has 1\)/, 'delta byte array');
});
