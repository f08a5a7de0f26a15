/**
 * `vireo batch` holds one Arrow message (read whole) to `--max-message-bytes`, checked from the
 * lengths the bytes already read declare, before the message is allocated (src/codecs/arrow-batch-reader.ts).
 * A real file whose largest record batch is one byte over a bound set by the option (or its environment
 * variable) is refused on one line naming the file, the batch, its size and the bound; the same file at
 * exactly the bound runs every row. Headers declaring 2^40-byte bodies are refused at once: as corrupt in a
 * tiny file, by the bound in a sparse file that really is that long (allocating it would fail: more than
 * node's largest buffer), and so is a stream message whose metadata alone declares 4 GiB. Expected sizes
 * are read from the files' own headers and footers here; every run is a CLI process under a time limit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Float32, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { ByteBuffer } from 'flatbuffers';
import { Footer } from 'apache-arrow/fb/footer';
import { Message } from 'apache-arrow/fb/message';
import { MessageHeader } from 'apache-arrow/fb/message-header';

const root = join(import.meta.dirname, '..', '..');
const COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
/** Rows of each record batch: the second is the largest. */
const BATCH_ROWS = [10, 300, 20];
const TERA = 2n ** 40n;
/** A run longer than this is a hang (a valid one takes a few seconds). */
const LIMIT_MS = 60_000;
let dir: string;
let repo: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-arrow-size-'));
  repo = join(dir, 'models');
  await mkdir(repo);
  await symlink(join(root, 'examples', 'models', 'tabular'), join(repo, 'tabular'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** One record batch per entry of `rows`, four float32 feature columns. */
function table(rows: number[]): Table {
  const batch = (n: number, first: number) => new Table(Object.fromEntries(COLUMNS.map((c, k) => [c, vectorFromArray(Array.from({ length: n }, (_, r) => (first + r) / 10 + k), new Float32())])));
  return rows.map((n, b) => batch(n, rows.slice(0, b).reduce((a, x) => a + x, 0))).reduce((a, t) => a.concat(t));
}

interface Run { code: number | null; killed: boolean; stdout: string; stderr: string; ms: number }

function vireoBatch(input: string, output: string, args: string[] = [], env: Record<string, string> = {}): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['--max-old-space-size=512', join(root, 'bin', 'vireo.js'), 'batch', '--model-repository', repo, '--model', 'tabular', '--input', input, '--output', output, '--input-format', 'arrow', '--progress', 'none', ...args],
      { env: { ...process.env, ...env }, timeout: LIMIT_MS, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
        const failure = error as { code?: number; killed?: boolean } | null;
        resolve({ code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0, killed: Boolean(failure?.killed), stdout, stderr, ms: performance.now() - t0 });
      });
  });
}

/** stderr without the JSON log lines and node's own warnings: what a human reads. */
const said = (run: Run) => run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{') && !l.includes('ExperimentalWarning') && !l.includes('--trace-warnings'));

/** Refused as bad input (exit 3) in time, on exactly the line `line`, or on one line matching it. */
function assertRefused(run: Run, line: string | RegExp, what: string): void {
  assert.ok(!run.killed, `${what}: killed after ${Math.round(run.ms)} ms`);
  assert.equal(run.code, 3, `${what}: exit ${run.code}\n${run.stderr.slice(-2000)}`);
  assert.doesNotMatch(run.stderr, /\n\s+at |FATAL ERROR|out of memory|Invalid typed array length|allocation failed/, `${what}: a crash or an allocation\n${run.stderr.slice(-2000)}`);
  assert.equal(said(run).length, 1, `${what}: one line\n${run.stderr}`);
  if (typeof line === 'string') assert.equal(said(run)[0], line, what);
  else assert.match(said(run)[0]!, line, what);
}

/** A stream's encapsulated messages: where each starts, its metadata, its type and declared body length. */
function streamMessages(bytes: Buffer): { at: number; metadataAt: number; length: number; type: MessageHeader; body: bigint; message: Message }[] {
  const found = [];
  for (let at = 0; at + 8 <= bytes.length;) {
    const length = bytes.readUInt32LE(at + 4);
    if (bytes.readUInt32LE(at) !== 0xffffffff || length === 0) break;
    const message = Message.getRootAsMessage(new ByteBuffer(bytes.subarray(at + 8, at + 8 + length)));
    found.push({ at, metadataAt: at + 8, length, type: message.headerType(), body: message.bodyLength(), message });
    at += 8 + length + Number(message.bodyLength());
  }
  return found;
}

/** Where a message's bodyLength (its table's field 3) lies in `bytes`, whose metadata starts at `metadataAt`. */
function bodyLengthAt(message: Message, metadataAt: number): number {
  return metadataAt + message.bb_pos + message.bb!.__offset(message.bb_pos, 10);
}

/** A file's footer: where it starts, and where its record batch blocks (offset, metaDataLength, bodyLength: 24 bytes each) lie. */
function fileFooter(bytes: Buffer): { start: number; footer: Footer; blocksAt: number } {
  const length = bytes.readInt32LE(bytes.length - 10);
  const start = bytes.length - 10 - length;
  const footer = Footer.getRootAsFooter(new ByteBuffer(bytes.subarray(start, bytes.length - 10)));
  return { start, footer, blocksAt: start + footer.bb!.__vector(footer.bb_pos + footer.bb!.__offset(footer.bb_pos, 10)) };
}

const committedParts = async (output: string) => (await readdir(join(output, 'parts')).catch(() => [] as string[])).filter((f) => f.endsWith('.manifest.json'));

it('a record batch one byte over --max-message-bytes is refused by name; the same file at exactly the bound runs', { timeout: 6 * LIMIT_MS }, async () => {
  // Stream: sizes from its message headers (prefix, metadata, body); the schema is message 0.
  const stream = Buffer.from(tableToIPC(table(BATCH_ROWS), 'stream'));
  const batches = streamMessages(stream).filter((m) => m.type === MessageHeader.RecordBatch);
  assert.equal(batches.length, BATCH_ROWS.length);
  const sizes = batches.map((m) => 8 + m.length + Number(m.body));
  const largest = sizes.indexOf(Math.max(...sizes));
  assert.equal(largest, 1);
  const streamInput = join(dir, 'sized.arrows');
  await writeFile(streamInput, stream);
  assertRefused(await vireoBatch(streamInput, join(dir, 'out-sized-stream'), ['--max-message-bytes', String(sizes[1]! - 1)]),
    `vireo batch: ${streamInput}: record batch 1 (message 2) declares ${sizes[1]} bytes (metadata ${8 + batches[1]!.length} + body ${batches[1]!.body}), more than the ${sizes[1]! - 1} bytes one Arrow message may take, read whole (raise --max-message-bytes) (VIREO_ERR_BATCH_INPUT_INVALID)`, 'stream over the bound');

  // File: sizes from its footer's blocks; refused before any row runs, here through the environment variable.
  const file = Buffer.from(tableToIPC(table(BATCH_ROWS), 'file'));
  const { footer } = fileFooter(file);
  const blocks = Array.from({ length: footer.recordBatchesLength() }, (_, i) => footer.recordBatches(i)!);
  const block = blocks[1]!;
  const blockSize = block.metaDataLength() + Number(block.bodyLength());
  assert.equal(blockSize, sizes[1], 'the same message in a stream and a file');
  const fileInput = join(dir, 'sized.arrow');
  await writeFile(fileInput, file);
  const fileOutput = join(dir, 'out-sized-file');
  assertRefused(await vireoBatch(fileInput, fileOutput, [], { VIREO_MAX_MESSAGE_BYTES: String(blockSize - 1) }),
    `vireo batch: ${fileInput}: record batch 1 declares ${blockSize} bytes (metadata ${block.metaDataLength()} + body ${block.bodyLength()}), more than the ${blockSize - 1} bytes one Arrow message may take, read whole (raise --max-message-bytes) (VIREO_ERR_BATCH_INPUT_INVALID)`, 'file over the bound');
  assert.deepEqual(await committedParts(fileOutput), [], 'no part of a refused file');

  // At exactly the bound (the largest message is that size): every row runs.
  for (const [input, what] of [[streamInput, 'stream'], [fileInput, 'file']] as const) {
    const run = await vireoBatch(input, join(dir, `out-at-bound-${what}`), ['--max-message-bytes', String(sizes[1])]);
    assert.equal(run.code, 0, `${what}: ${run.stderr.slice(-2000)}`);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { rows: number; errors: number };
    assert.deepEqual([summary.rows, summary.errors], [BATCH_ROWS.reduce((a, b) => a + b, 0), 0], what);
  }
});

it('a header declaring a 2^40-byte body in a tiny file is refused at once as corrupt, nothing allocated', { timeout: 4 * LIMIT_MS }, async () => {
  const corrupt = (input: string) => new RegExp(`^vireo batch: ${input.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a valid Arrow IPC file or stream, or corrupt \\(.*1099511627776.*\\) \\(VIREO_ERR_BATCH_INPUT_INVALID\\)$`);
  // Stream: the record batch's own header.
  const stream = Buffer.from(tableToIPC(table([20]), 'stream'));
  const batch = streamMessages(stream).find((m) => m.type === MessageHeader.RecordBatch)!;
  stream.writeBigInt64LE(TERA, bodyLengthAt(batch.message, batch.metadataAt));
  await writeFile(join(dir, 'tiny.arrows'), stream);
  assertRefused(await vireoBatch(join(dir, 'tiny.arrows'), join(dir, 'out-tiny-stream')), corrupt(join(dir, 'tiny.arrows')), 'stream header');

  // File: the message's header (its footer block unchanged), then the footer block itself.
  const file = Buffer.from(tableToIPC(table([20]), 'file'));
  const { blocksAt } = fileFooter(file);
  const offset = Number(file.readBigInt64LE(blocksAt));
  const inFile = streamMessages(file.subarray(offset))[0]!;
  const header = Buffer.from(file);
  header.writeBigInt64LE(TERA, offset + bodyLengthAt(inFile.message, inFile.metadataAt));
  await writeFile(join(dir, 'tiny-header.arrow'), header);
  assertRefused(await vireoBatch(join(dir, 'tiny-header.arrow'), join(dir, 'out-tiny-header')), corrupt(join(dir, 'tiny-header.arrow')), 'file message header');
  const footerBlock = Buffer.from(file);
  footerBlock.writeBigInt64LE(TERA, blocksAt + 16);
  await writeFile(join(dir, 'tiny-footer.arrow'), footerBlock);
  assertRefused(await vireoBatch(join(dir, 'tiny-footer.arrow'), join(dir, 'out-tiny-footer')), corrupt(join(dir, 'tiny-footer.arrow')), 'file footer block');
});

/** Writes `head` at the start of a sparse file, then `tail` (if any) at `tailAt`, the file `size` bytes long. */
async function sparseFile(path: string, head: Uint8Array, size: number, tail?: { at: number; bytes: Uint8Array }): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.write(head, 0, head.length, 0);
    if (tail) await handle.write(tail.bytes, 0, tail.bytes.length, tail.at);
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

it('a message really spanning 2^40 bytes (a sparse file), or 4 GiB of metadata, is refused by the default bound before it is allocated', { timeout: 4 * LIMIT_MS }, async () => {
  const bound = 2 * 1024 ** 3; // the documented default (docs/batch.md)
  // Stream: the record batch declares a body of 2^40 bytes, and the file holds them (a hole).
  const stream = Buffer.from(tableToIPC(table([20]), 'stream'));
  const batch = streamMessages(stream).find((m) => m.type === MessageHeader.RecordBatch)!;
  stream.writeBigInt64LE(TERA, bodyLengthAt(batch.message, batch.metadataAt));
  const streamInput = join(dir, 'sparse.arrows');
  await sparseFile(streamInput, stream.subarray(0, batch.metadataAt + batch.length), batch.metadataAt + batch.length + Number(TERA));
  assertRefused(await vireoBatch(streamInput, join(dir, 'out-sparse-stream')),
    `vireo batch: ${streamInput}: record batch 0 (message 1) declares ${8 + batch.length + Number(TERA)} bytes (metadata ${8 + batch.length} + body ${TERA}), more than the ${bound} bytes one Arrow message may take, read whole (raise --max-message-bytes) (VIREO_ERR_BATCH_INPUT_INVALID)`, 'sparse stream');

  // File: its one record batch block and message both declare the 2^40-byte body; the footer after it.
  const file = Buffer.from(tableToIPC(table([20]), 'file'));
  const { start, blocksAt } = fileFooter(file);
  const offset = Number(file.readBigInt64LE(blocksAt));
  const metadataLength = file.readInt32LE(blocksAt + 8);
  const inFile = streamMessages(file.subarray(offset))[0]!;
  file.writeBigInt64LE(TERA, offset + bodyLengthAt(inFile.message, inFile.metadataAt));
  file.writeBigInt64LE(TERA, blocksAt + 16);
  const footerAt = offset + metadataLength + Number(TERA);
  const tail = file.subarray(start);
  const fileInput = join(dir, 'sparse.arrow');
  await sparseFile(fileInput, file.subarray(0, offset + metadataLength), footerAt + tail.length, { at: footerAt, bytes: tail });
  assertRefused(await vireoBatch(fileInput, join(dir, 'out-sparse-file')),
    `vireo batch: ${fileInput}: record batch 0 declares ${metadataLength + Number(TERA)} bytes (metadata ${metadataLength} + body ${TERA}), more than the ${bound} bytes one Arrow message may take, read whole (raise --max-message-bytes) (VIREO_ERR_BATCH_INPUT_INVALID)`, 'sparse file');

  // Stream: the schema message's length prefix claims 4 GiB − 8 of metadata, which the file holds.
  const metadata = 2 ** 32 - 8;
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32LE(0xffffffff, 0);
  prefix.writeUInt32LE(metadata, 4);
  const metadataInput = join(dir, 'sparse-metadata.arrows');
  await sparseFile(metadataInput, prefix, 8 + metadata + 8);
  assertRefused(await vireoBatch(metadataInput, join(dir, 'out-sparse-metadata')),
    `vireo batch: ${metadataInput}: message 0 declares ${8 + metadata} bytes (metadata ${8 + metadata} before its body), more than the ${bound} bytes one Arrow message may take, read whole (raise --max-message-bytes) (VIREO_ERR_BATCH_INPUT_INVALID)`, 'sparse metadata');
});
