/**
 * `vireo batch` over corrupt Arrow IPC files (src/codecs/arrow-batch-reader.ts readArrowBatches, its
 * messages checked by arrow-ipc-check.ts as they are read). A valid stream and file still run, each
 * row as the MLP's reference computes it (a null feature fails its row). Crafted damage that made
 * apache-arrow exhaust the heap or loop (a batch claiming a trillion rows, a footer claiming 2^30
 * blocks, a footer block that holds another kind of message) is refused at once, naming the file; and
 * files with random bytes flipped (fixed seeds) each end in bounded time, run (rows failing or not) or
 * refused on one line, never a crash, a stack trace or a hang. Run through the CLI, each run in a
 * process of its own under a time limit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Dictionary, Float32, Float64, Int32, Table, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { ByteBuffer } from 'flatbuffers';
import { Footer } from 'apache-arrow/fb/footer';
import { Message } from 'apache-arrow/fb/message';
import { MessageHeader } from 'apache-arrow/fb/message-header';
import { RecordBatch } from 'apache-arrow/fb/record-batch';
import { mlpReference } from '../../tools/modelgen/models.js';
import { TABULAR_SEED, TABULAR_SIZES } from '../../tools/prepare-examples.js';
import { Rng } from '../helpers/fuzz.js';

const root = join(import.meta.dirname, '..', '..');
const COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const ROWS = 20;
const BATCHES = 3;
/** A run longer than this is a hang (a valid one takes a few seconds). */
const LIMIT_MS = 60_000;
let dir: string;
let repo: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-arrow-'));
  repo = join(dir, 'models');
  await mkdir(repo);
  await symlink(join(root, 'examples', 'models', 'tabular'), join(repo, 'tabular'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** Row r's features; petal_width is null on every 7th row (from the 4th). */
const feature = (r: number, k: number) => (k === 3 && r % 7 === 3 ? null : r / 10 + k);

/** BATCHES record batches of ROWS rows: three float32 columns, a nullable float64 one, a dictionary-encoded id. */
function table(): Table {
  const n = ROWS * BATCHES;
  const full = new Table({
    ...Object.fromEntries(COLUMNS.map((c, k) => [c, k === 3
      ? vectorFromArray(Array.from({ length: n }, (_, r) => feature(r, k)), new Float64())
      : vectorFromArray(Array.from({ length: n }, (_, r) => feature(r, k)), new Float32())])),
    kind: vectorFromArray(Array.from({ length: n }, (_, r) => ['a', 'b', 'c'][r % 3]!), new Dictionary(new Utf8(), new Int32())),
  });
  return Array.from({ length: BATCHES }, (_, b) => full.slice(b * ROWS, (b + 1) * ROWS)).reduce((a, t) => a.concat(t));
}

interface Run { code: number | null; signal: string | null; killed: boolean; stdout: string; stderr: string; ms: number }

function vireoBatch(input: string, output: string): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['--max-old-space-size=512', join(root, 'bin', 'vireo.js'), 'batch', '--model-repository', repo, '--model', 'tabular', '--input', input, '--output', output, '--id-column', 'kind', '--progress', 'none'],
      { timeout: LIMIT_MS, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
        const failure = error as { code?: number; signal?: string; killed?: boolean } | null;
        resolve({ code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0, signal: failure?.signal ?? null, killed: Boolean(failure?.killed), stdout, stderr, ms: performance.now() - t0 });
      });
  });
}

/** stderr without the JSON log lines and node's own warnings: what a human reads. */
const said = (run: Run) => run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{') && !l.includes('ExperimentalWarning') && !l.includes('--trace-warnings'));

/** The run ended in time, and either ran (exit 0) or was refused as bad input on one line (exit 3). */
function assertEndedCleanly(run: Run, what: string): void {
  assert.ok(!run.killed && run.signal === null, `${what}: killed after ${Math.round(run.ms)} ms (${run.signal ?? 'time limit'})`);
  assert.ok(run.code === 0 || run.code === 3, `${what}: exit ${run.code}\n${run.stderr.slice(-2000)}`);
  assert.doesNotMatch(run.stderr, /\n\s+at |FATAL ERROR|heap out of memory/, `${what}: a crash or a stack trace\n${run.stderr.slice(-2000)}`);
  if (run.code === 3) {
    assert.equal(said(run).length, 1, `${what}: one line\n${run.stderr}`);
    assert.match(said(run)[0]!, /^vireo batch: .*\(VIREO_ERR_BATCH_INPUT_INVALID\)$/, what);
  }
}

function assertRefusedByName(run: Run, path: string, why: RegExp, what: string): void {
  assertEndedCleanly(run, what);
  assert.equal(run.code, 3, `${what}: exit ${run.code}\n${run.stdout}`);
  assert.ok(said(run)[0]!.startsWith(`vireo batch: ${path}: not a valid Arrow IPC file or stream, or corrupt (`), `${what}: ${said(run)[0]}`);
  assert.match(said(run)[0]!, why, what);
}

/** Where each encapsulated message of a stream (or of a file's stream, from byte 8) starts, with its metadata's bytes and type. */
function messages(bytes: Buffer, start: number): { at: number; metadataAt: number; length: number; type: MessageHeader }[] {
  const found = [];
  for (let at = start; at + 8 <= bytes.length;) {
    const length = bytes.readUInt32LE(at + 4);
    if (bytes.readUInt32LE(at) !== 0xffffffff || length === 0) break;
    const message = Message.getRootAsMessage(new ByteBuffer(bytes.subarray(at + 8, at + 8 + length)));
    found.push({ at, metadataAt: at + 8, length, type: message.headerType() });
    at += 8 + length + Number(message.bodyLength());
  }
  return found;
}

it('a valid Arrow stream and file run, each row as the reference computes it', { timeout: 5 * LIMIT_MS }, async () => {
  const rows = ROWS * BATCHES;
  const valid = Array.from({ length: rows }, (_, r) => r).filter((r) => feature(r, 3) !== null);
  const expected = mlpReference(TABULAR_SIZES, TABULAR_SEED, Float32Array.from(valid.flatMap((r) => COLUMNS.map((_, k) => feature(r, k)!))), valid.length);
  for (const format of ['stream', 'file'] as const) {
    const input = join(dir, `valid-${format}.arrow`);
    await writeFile(input, tableToIPC(table(), format));
    const output = join(dir, `out-valid-${format}`);
    const run = await vireoBatch(input, output);
    assertEndedCleanly(run, format);
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { rows: number; errors: number };
    assert.deepEqual([summary.rows, summary.errors], [rows, rows - valid.length], format);
    // The answered rows, from the output's Arrow parts: row id → OUTPUT.
    const { tableFromIPC } = await import('apache-arrow');
    const got = new Map<number, number[]>();
    for (const file of (await readdir(join(output, 'parts'))).filter((f) => f.endsWith('.arrow')).sort()) {
      const part = tableFromIPC(await readFile(join(output, 'parts', file)));
      const ids = part.getChild('row') ?? part.getChild('id');
      const outputs = part.getChild('OUTPUT');
      if (!ids || !outputs) continue;
      for (let i = 0; i < part.numRows; i++) if (outputs.get(i) !== null) got.set(Number(ids.get(i)), Array.from(outputs.get(i) as Iterable<number>));
    }
    assert.deepEqual([...got.keys()].sort((a, b) => a - b), valid, format);
    valid.forEach((r, i) => got.get(r)!.forEach((v, k) => assert.ok(Math.abs(v - expected[i * 3 + k]!) < 1e-4, `${format}, row ${r}`)));
  }
});

it('a batch claiming a trillion rows, a footer claiming 2^30 blocks, a block holding another kind of message: each refused at once by name', { timeout: 8 * LIMIT_MS }, async () => {
  // A record batch's row count (its RecordBatch table's `length`) raised by 2^40, in a stream and in a file.
  for (const format of ['stream', 'file'] as const) {
    const bytes = Buffer.from(tableToIPC(table(), format));
    const batch = messages(bytes, format === 'file' ? 8 : 0).find((m) => m.type === MessageHeader.RecordBatch)!;
    const header = Message.getRootAsMessage(new ByteBuffer(bytes.subarray(batch.metadataAt, batch.metadataAt + batch.length))).header(new RecordBatch()) as RecordBatch;
    assert.equal(header.length(), BigInt(ROWS));
    // The field's offset from its vtable: flatbuffers' own accessor for field 0 (length).
    const at = batch.metadataAt + header.bb_pos + header.bb!.__offset(header.bb_pos, 4);
    assert.equal(bytes.readBigInt64LE(at), BigInt(ROWS));
    bytes.writeBigInt64LE(BigInt(ROWS) + 2n ** 40n, at);
    const input = join(dir, `rows-${format}.arrow`);
    await writeFile(input, bytes);
    assertRefusedByName(await vireoBatch(input, join(dir, `out-rows-${format}`)), input, /a record batch of 1099511627796 rows whose columns hold 20 at most/, `${format}: row count`);
  }

  const file = Buffer.from(tableToIPC(table(), 'file'));
  const footerLength = file.readInt32LE(file.length - 10);
  const footerStart = file.length - 10 - footerLength;
  const footer = Footer.getRootAsFooter(new ByteBuffer(file.subarray(footerStart, file.length - 10)));
  assert.equal(footer.recordBatchesLength(), BATCHES);
  // The record batches vector: its length, then its Block structs (24 bytes: offset, metaDataLength, bodyLength).
  const vector = footerStart + footer.bb!.__vector(footer.bb_pos + footer.bb!.__offset(footer.bb_pos, 10));
  assert.equal(file.readUInt32LE(vector - 4), BATCHES);
  assert.equal(file.readBigInt64LE(vector), footer.recordBatches(0)!.offset());

  const huge = Buffer.from(file);
  huge.writeUInt32LE(2 ** 30, vector - 4);
  await writeFile(join(dir, 'blocks.arrow'), huge);
  assertRefusedByName(await vireoBatch(join(dir, 'blocks.arrow'), join(dir, 'out-blocks')), join(dir, 'blocks.arrow'), /record batch blocks: 1073741824 entries cannot fit/, 'footer count');

  // The second record batch block pointing at the dictionary's message (its own bounds, so only its kind is wrong).
  const dictionary = footer.dictionaries(0)!;
  const swapped = Buffer.from(file);
  swapped.writeBigInt64LE(dictionary.offset(), vector + 24);
  swapped.writeInt32LE(dictionary.metaDataLength(), vector + 24 + 8);
  swapped.writeBigInt64LE(dictionary.bodyLength(), vector + 24 + 16);
  await writeFile(join(dir, 'swapped.arrow'), swapped);
  assertRefusedByName(await vireoBatch(join(dir, 'swapped.arrow'), join(dir, 'out-swapped')), join(dir, 'swapped.arrow'), /the footer's RecordBatch block at \d+ holds a DictionaryBatch message/, 'block kind');
});


it('files with random bytes flipped each end in bounded time: run, or refused on one line, never a crash or a hang', { timeout: 40 * LIMIT_MS }, async () => {
  // Seeded (mulberry32, test/helpers/fuzz.ts): the same cases on every run.
  const rng = new Rng(20261202);
  const next = () => rng.next();
  const ends: Record<string, number> = {};
  for (const format of ['stream', 'file'] as const) {
    const source = Buffer.from(tableToIPC(table(), format));
    for (let round = 0; round < 12; round++) {
      const bytes = Buffer.from(source);
      for (let k = 0; k < 3; k++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      const input = join(dir, `flipped-${format}-${round}.arrow`);
      await writeFile(input, bytes);
      const run = await vireoBatch(input, join(dir, `out-flipped-${format}-${round}`));
      assertEndedCleanly(run, `${format} round ${round}`);
      const end = run.code === 0 ? 'ran' : /not a valid Arrow IPC/.test(said(run)[0]!) ? 'refused as corrupt' : 'refused otherwise';
      ends[end] = (ends[end] ?? 0) + 1;
    }
  }
  assert.ok((ends['refused as corrupt'] ?? 0) > 0, JSON.stringify(ends));
});
