/**
 * Byte blocks of a text file: for every block size, the blocks' lines together are the file's lines,
 * each exactly once, numbered as the file numbers them (also with CRLF, blank lines, a last line
 * without newline, multi-byte UTF-8 across read chunks), and LineCounter agrees with counting.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { blockCount, LineCounter, readBlockByteLineRuns, readBlockLineBytes, readBlockLines } from '../../../src/batch/line-blocks.js';
import type { VireoError } from '../../../src/core/errors.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-line-blocks-'));
after(() => rm(dir, { recursive: true, force: true }));

it('every line exactly once, in order, with its number, whatever the block size', async () => {
  const lines = Array.from({ length: 120 }, (_, i) => (i % 37 === 0 ? '' : `line ${i} ${'é€'.repeat(i % 13)} ${'x'.repeat((i * 7919) % 90)}`));
  for (const [name, text] of [['lf.txt', `${lines.join('\n')}\n`], ['crlf.txt', lines.join('\r\n')]] as const) {
    const path = join(dir, name);
    await writeFile(path, text);
    const size = Buffer.byteLength(text);
    for (const blockBytes of [2, 13, 100, 1024, size, size * 2]) {
      const counter = new LineCounter(path, blockBytes);
      const got: { number: number; text: string }[] = [];
      for (let block = 0; block < blockCount(size, blockBytes); block++) {
        const first = await counter.firstLine(block);
        const start = block * blockBytes;
        for await (const line of readBlockLines(path, start, Math.min(size, start + blockBytes), first)) got.push(line);
      }
      const expected = lines.map((t, i) => ({ number: i, text: t }));
      assert.deepEqual(got, expected, `${name}, blocks of ${blockBytes} bytes`);
    }
  }
});

it('a line longer than maxLineBytes stops the reading with its number, at any read size; one at the bound is read', async () => {
  // 3 MiB: longer than one 1 MiB read, so the bound is met across reads, not only within one.
  const long = 'y'.repeat(3 * 1024 * 1024);
  const path = join(dir, 'long-line.jsonl');
  await writeFile(path, `short\n${long}\nafter\n`);
  const size = Buffer.byteLength(`short\n${long}\nafter\n`);
  const read = async (maxLineBytes: number) => {
    const got: string[] = [];
    for await (const line of readBlockLines(path, 0, size, 0, { maxLineBytes })) got.push(line.text.length > 10 ? `${line.text.length} chars` : line.text);
    return got;
  };
  for (const bound of [1000, 1024 * 1024, long.length - 1]) {
    await assert.rejects(read(bound), (error: VireoError) => error.code === 'VIREO_ERR_BATCH_INPUT_INVALID' && error.message.includes(`line 2 is longer than ${bound} bytes`));
  }
  assert.deepEqual(await read(long.length), ['short', `${long.length} chars`, 'after']);
  const bytes: number[] = [];
  for await (const line of readBlockLineBytes(path, 0, size, 0, { maxLineBytes: long.length })) bytes.push(line.bytes.length);
  assert.deepEqual(bytes, [5, long.length, 5]);
  await assert.rejects(async () => { for await (const _ of readBlockLineBytes(path, 0, size, 0, { maxLineBytes: 10 })) { /* reading */ } }, /line 2 is longer than 10 bytes/);
});

it('runs of lines: each a piece of the file\'s lines in order, at most 1,024 lines, also from a later block', async () => {
  const lines = Array.from({ length: 5000 }, (_, i) => String(i % 10));
  const path = join(dir, 'short-lines.txt');
  const text = `${lines.join('\n')}\n`;
  await writeFile(path, text);
  const size = Buffer.byteLength(text);
  for (const [start, first] of [[0, 0], [4000, 2000], [3999, 2000]] as const) {
    const sizes: number[] = [];
    const got: string[] = [];
    const numbers: number[] = [];
    for await (const run of readBlockByteLineRuns(path, start, size, first)) {
      sizes.push(run.length);
      for (const line of run) {
        got.push(line.bytes.toString());
        numbers.push(line.number);
      }
    }
    assert.ok(sizes.every((n) => n > 0 && n <= 1024), `run sizes ${sizes.join(',')}`);
    assert.deepEqual(got, lines.slice(first));
    assert.deepEqual(numbers, lines.slice(first).map((_, i) => first + i));
  }
});

it('a line that ends the reading (not UTF-8 when decoded strictly, or too long) comes after every line before it', async () => {
  const path = join(dir, 'ends-reading.txt');
  await writeFile(path, Buffer.concat([Buffer.from('one\ntwo\n'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), Buffer.from('\nfour\n')]));
  const got: string[] = [];
  await assert.rejects(async () => { for await (const line of readBlockLines(path, 0, 100, 0)) got.push(line.text); }, TypeError);
  assert.deepEqual(got, ['one', 'two']);
  await writeFile(path, `one\ntwo\n${'x'.repeat(50)}\nfour\n`);
  const before: string[] = [];
  await assert.rejects(async () => { for await (const line of readBlockLines(path, 0, 100, 0, { maxLineBytes: 10 })) before.push(line.text); }, /line 3 is longer than 10 bytes/);
  assert.deepEqual(before, ['one', 'two']);
});
