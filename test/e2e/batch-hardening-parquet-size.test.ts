/**
 * `vireo batch` holds one Parquet row group (read whole) to `--max-message-bytes`, checked from the
 * footer before the row group is read (src/codecs/parquet-footer-bounds.ts): the compressed bytes of its
 * column chunks, the bytes they declare decoded, and its rows × columns at 4 bytes a cell. A real file
 * (hyparquet-writer, three row groups) whose largest row group is one byte over a bound set by the option
 * (or its environment variable) is refused on one line naming the file, the row group, its size and the
 * bound, before any row runs; a shard that does not own that row group runs; the same file at exactly the
 * bound runs every row. Footers rewritten (hyparquet-writer's own metadata writer) to declare a 2^40-byte
 * chunk, a chunk past the end of the file, 2^40 bytes decoded or 2^40 rows are refused at once, as corrupt
 * in a tiny file or by the bound (decoded bytes; rows × columns; a chunk really that long, in a sparse
 * file), never by an allocation.
 * Expected sizes are read from the files' own footers here (hyparquet's parquetMetadata); every run is a
 * CLI process under a time limit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { parquetMetadata, type FileMetaData } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';

const root = join(import.meta.dirname, '..', '..');
const COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
/** Rows of each row group: the second is the largest. */
const GROUP_ROWS = [10, 300, 20];
const TERA = 2n ** 40n;
const DEFAULT_BOUND = 2 * 1024 ** 3; // --max-message-bytes by default (docs/batch.md)
/** A run longer than this is a hang (a valid one takes a few seconds). */
const LIMIT_MS = 60_000;
let dir: string;
let repo: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-parquet-size-'));
  repo = join(dir, 'models');
  await mkdir(repo);
  await symlink(join(root, 'examples', 'models', 'tabular'), join(repo, 'tabular'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A Parquet file of four float32 feature columns (as hyparquet-writer writes them: OPTIONAL, snappy), one row group per entry of `rows`. */
function parquetFile(rows: number[]): Buffer {
  const total = rows.reduce((a, b) => a + b, 0);
  return Buffer.from(parquetWriteBuffer({
    columnData: COLUMNS.map((name, k) => ({ name, data: Float32Array.from({ length: total }, (_, r) => r / 10 + k), type: 'FLOAT' as const })),
    rowGroupSize: rows,
  }));
}

interface Run { code: number | null; killed: boolean; stdout: string; stderr: string; ms: number }

function vireoBatch(input: string, output: string, args: string[] = [], env: Record<string, string> = {}): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['--max-old-space-size=512', join(root, 'bin', 'vireo.js'), 'batch', '--model-repository', repo, '--model', 'tabular', '--input', input, '--output', output, '--input-format', 'parquet', '--progress', 'none', ...args],
      { env: { ...process.env, ...env }, timeout: LIMIT_MS, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
        const failure = error as { code?: number; killed?: boolean } | null;
        resolve({ code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0, killed: Boolean(failure?.killed), stdout, stderr, ms: performance.now() - t0 });
      });
  });
}

/** stderr without the JSON log lines and node's own warnings: what a human reads. */
const said = (run: Run) => run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{') && !l.includes('ExperimentalWarning') && !l.includes('--trace-warnings'));

/** Refused as bad input (exit 3) in time, on exactly the line `line`. */
function assertRefused(run: Run, line: string, what: string): void {
  assert.ok(!run.killed, `${what}: killed after ${Math.round(run.ms)} ms`);
  assert.equal(run.code, 3, `${what}: exit ${run.code}\n${run.stderr.slice(-2000)}`);
  assert.doesNotMatch(run.stderr, /\n\s+at |FATAL ERROR|out of memory|Invalid typed array length|Invalid array length|allocation failed/, `${what}: a crash or an allocation\n${run.stderr.slice(-2000)}`);
  assert.deepEqual(said(run), [line], what);
}

function assertRan(run: Run, rows: number, what: string): void {
  assert.equal(run.code, 0, `${what}: ${run.stderr.slice(-2000)}`);
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { rows: number; errors: number };
  assert.deepEqual([summary.rows, summary.errors], [rows, 0], what);
}

const committedParts = async (output: string) => (await readdir(join(output, 'parts')).catch(() => [] as string[])).filter((f) => f.endsWith('.manifest.json'));

/** A file's footer as hyparquet reads it, and where it starts (PAR1, column data …, footer, its length, PAR1). */
function footerOf(bytes: Buffer): { metadata: FileMetaData; start: number } {
  return { metadata: parquetMetadata(bytes), start: bytes.length - 8 - bytes.readUInt32LE(bytes.length - 8) };
}

/** The footer `metadata` serialized as a file ends: its thrift bytes, their length, PAR1 (hyparquet-writer's own writer). */
function footerBytes(metadata: FileMetaData): Buffer {
  const writer = new ByteWriter();
  // hyparquet-writer types it with its own copy of hyparquet's types (a version apart): the same fields.
  writeMetadata(writer, metadata as Parameters<typeof writeMetadata>[1]);
  return Buffer.concat([writer.getBytes(), Buffer.from('PAR1')]);
}

/** The file with its footer rewritten after `edit`: the column data as it was. */
function withFooter(bytes: Buffer, edit: (metadata: FileMetaData) => void): Buffer {
  const { metadata, start } = footerOf(bytes);
  edit(metadata);
  return Buffer.concat([bytes.subarray(0, start), footerBytes(metadata)]);
}

/** What a row group declares, computed here from its footer entry: every column is read. */
function declared(metadata: FileMetaData, group: number) {
  const g = metadata.row_groups[group]!;
  const sum = (f: (m: NonNullable<typeof g.columns[number]['meta_data']>) => bigint) => g.columns.reduce((a, c) => a + Number(f(c.meta_data!)), 0);
  const read = sum((m) => m.total_compressed_size);
  const decoded = sum((m) => m.total_uncompressed_size);
  const rows = Number(g.num_rows);
  const cells = rows * g.columns.length * 4;
  return { read, decoded, rows, columns: g.columns.length, cells, size: Math.max(read, decoded, cells) };
}

const overBound = (input: string, group: number, d: ReturnType<typeof declared>, bound: number) =>
  `vireo batch: ${input}: row group ${group} declares ${d.size} bytes (${d.read} compressed, ${d.decoded} decoded; ${d.rows} rows × ${d.columns} columns of at least 4 bytes: ${d.cells}), more than the ${bound} bytes one Parquet row group may take, read whole (raise --max-message-bytes, or write smaller row groups: row_group_size in pyarrow and Polars) (VIREO_ERR_BATCH_INPUT_INVALID)`;

/** Where row group `group`'s chunk `column` starts, as the footer says, and the end of the file's column data. */
function chunkAt(bytes: Buffer, group: number, column: number): { start: number; dataEnd: number } {
  const { metadata, start } = footerOf(bytes);
  const meta = metadata.row_groups[group]!.columns[column]!.meta_data!;
  return { start: Number(meta.dictionary_page_offset || meta.data_page_offset), dataEnd: start };
}

it('a row group one byte over --max-message-bytes is refused by name before any row runs; at exactly the bound every row runs', { timeout: 6 * LIMIT_MS }, async () => {
  const bytes = parquetFile(GROUP_ROWS);
  const { metadata } = footerOf(bytes);
  assert.deepEqual(metadata.row_groups.map((g) => Number(g.num_rows)), GROUP_ROWS);
  const sizes = GROUP_ROWS.map((_, g) => declared(metadata, g));
  const largest = sizes.reduce((a, b) => (b.size > a.size ? b : a));
  assert.equal(sizes.indexOf(largest), 1);
  const input = join(dir, 'sized.parquet');
  await writeFile(input, bytes);

  // One byte below the largest row group: refused before the first row group (well within it) runs.
  const refused = join(dir, 'out-sized');
  assertRefused(await vireoBatch(input, refused, ['--max-message-bytes', String(largest.size - 1)]), overBound(input, 1, largest, largest.size - 1), 'one byte over');
  assert.deepEqual(await committedParts(refused), [], 'no part of a refused file');
  // The same through the environment variable.
  assertRefused(await vireoBatch(input, join(dir, 'out-sized-env'), [], { VIREO_MAX_MESSAGE_BYTES: String(largest.size - 1) }), overBound(input, 1, largest, largest.size - 1), 'over, by VIREO_MAX_MESSAGE_BYTES');
  // A shard that does not own row group 1 (shard 0 of 3 owns row group 0) runs its rows.
  assertRan(await vireoBatch(input, join(dir, 'out-shard'), ['--max-message-bytes', String(largest.size - 1), '--shard', '0/3']), GROUP_ROWS[0]!, 'shard 0/3');

  // At exactly the bound: every row of every row group.
  assertRan(await vireoBatch(input, join(dir, 'out-at-bound'), ['--max-message-bytes', String(largest.size)]), GROUP_ROWS.reduce((a, b) => a + b, 0), 'at the bound');
});

it('a footer declaring a 2^40-byte chunk, a chunk past the end, 2^40 bytes decoded or 2^40 rows is refused at once, nothing allocated', { timeout: 6 * LIMIT_MS }, async () => {
  const good = parquetFile([20, 30]);
  // The rewriting itself changes nothing: the same footer, read back.
  const { metadata_length: _, ...same } = footerOf(withFooter(good, () => undefined)).metadata;
  const { metadata_length: __, ...original } = footerOf(good).metadata;
  assert.deepEqual(same, original);
  const corrupt = (input: string, detail: string) => `vireo batch: ${input}: not a valid Parquet file or corrupt (${detail}) (VIREO_ERR_BATCH_INPUT_INVALID)`;

  // Row group 1's petal_length chunk declares 2^40 compressed bytes.
  const huge = withFooter(good, (m) => { m.row_groups[1]!.columns[2]!.meta_data!.total_compressed_size = TERA; });
  const hugeAt = chunkAt(huge, 1, 2);
  await writeFile(join(dir, 'huge-chunk.parquet'), huge);
  assertRefused(await vireoBatch(join(dir, 'huge-chunk.parquet'), join(dir, 'out-huge-chunk')),
    corrupt(join(dir, 'huge-chunk.parquet'), `row group 1, column "petal_length": bytes ${hugeAt.start}–${hugeAt.start + Number(TERA)} are outside the file's column data, bytes 4–${hugeAt.dataEnd}`), 'a 2^40-byte chunk');

  // Row group 0's sepal_width chunk starts past the end of the file.
  const past = withFooter(good, (m) => {
    const meta = m.row_groups[0]!.columns[1]!.meta_data!;
    meta.dictionary_page_offset = undefined;
    meta.data_page_offset = BigInt(good.length) * 2n;
  });
  const size = Number(footerOf(good).metadata.row_groups[0]!.columns[1]!.meta_data!.total_compressed_size);
  await writeFile(join(dir, 'past-end.parquet'), past);
  assertRefused(await vireoBatch(join(dir, 'past-end.parquet'), join(dir, 'out-past-end')),
    corrupt(join(dir, 'past-end.parquet'), `row group 0, column "sepal_width": bytes ${good.length * 2}–${good.length * 2 + size} are outside the file's column data, bytes 4–${footerOf(past).start}`), 'a chunk past the end');

  // Row group 0 declares 2^40 rows, its chunks still 20 values: corrupt.
  const rows = withFooter(good, (m) => { m.row_groups[0]!.num_rows = TERA; });
  await writeFile(join(dir, 'huge-rows.parquet'), rows);
  assertRefused(await vireoBatch(join(dir, 'huge-rows.parquet'), join(dir, 'out-huge-rows')),
    corrupt(join(dir, 'huge-rows.parquet'), `row group 0 declares ${TERA} rows, but its column "sepal_length" holds 20 values`), '2^40 rows');

  // A chunk declaring 2^40 bytes decoded (its bytes in the file as they were): by the bound, not as corrupt.
  const inflating = withFooter(good, (m) => { m.row_groups[1]!.columns[3]!.meta_data!.total_uncompressed_size = TERA; });
  const inflated = declared(footerOf(inflating).metadata, 1);
  assert.equal(inflated.size, inflated.decoded);
  await writeFile(join(dir, 'huge-decoded.parquet'), inflating);
  assertRefused(await vireoBatch(join(dir, 'huge-decoded.parquet'), join(dir, 'out-huge-decoded')), overBound(join(dir, 'huge-decoded.parquet'), 1, inflated, DEFAULT_BOUND), 'a chunk declaring 2^40 bytes decoded');

  // 2^40 rows and as many values in every chunk: consistent, but its cells alone (4 bytes each at least)
  // are far beyond the default bound, refused before an array of 2^40 cells is made.
  const consistent = withFooter(good, (m) => {
    m.row_groups[0]!.num_rows = TERA;
    for (const c of m.row_groups[0]!.columns) c.meta_data!.num_values = TERA;
  });
  const input = join(dir, 'huge-rows-values.parquet');
  await writeFile(input, consistent);
  const d = declared(footerOf(consistent).metadata, 0);
  assert.equal(d.size, Number(TERA) * COLUMNS.length * 4);
  assertRefused(await vireoBatch(input, join(dir, 'out-huge-rows-values')), overBound(input, 0, d, DEFAULT_BOUND), '2^40 rows, 2^40 values');
});

it('a chunk really spanning 2^40 bytes (a sparse file) is refused by the default bound before it is read', { timeout: 2 * LIMIT_MS }, async () => {
  const good = parquetFile([20, 30]);
  const { metadata, start } = footerOf(good);
  // Row group 0's first chunk declares 2^40 bytes; the footer follows them, so they lie inside the file (a hole).
  metadata.row_groups[0]!.columns[0]!.meta_data!.total_compressed_size = TERA;
  const footer = footerBytes(metadata);
  const footerAt = start + Number(TERA);
  const input = join(dir, 'sparse.parquet');
  const handle = await open(input, 'w');
  try {
    await handle.write(good, 0, start, 0);
    await handle.write(footer, 0, footer.length, footerAt);
  } finally {
    await handle.close();
  }
  const d = declared(parquetMetadata(footer), 0);
  assert.ok(d.read > Number(TERA) && d.size === d.read);
  assertRefused(await vireoBatch(input, join(dir, 'out-sparse')), overBound(input, 0, d, DEFAULT_BOUND), 'a sparse 2^40-byte chunk');
});
