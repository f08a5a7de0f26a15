/**
 * LineCounter's count of blank lines before a block (what makes a CSV row's id its position among the
 * rows whichever shard reads it) against an independent count: the file split at newlines, each line
 * decoded (bad bytes as U+FFFD) and blank when its trim() is empty. Random files mix short and long
 * whitespace runs, Unicode spaces, CRLF, bytes that are not UTF-8 and rows that start like blank lines.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { blockCount, isBlankBytes, LineCounter } from '../../../src/batch/line-blocks.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-line-counter-'));
after(() => rm(dir, { recursive: true, force: true }));

const PIECES = ['', ' ', '\t', '\r', '1,2,3', 'abc', '\u00a0', '\u3000', '\ufeff', '\u00a0x', 'é', ' '.repeat(70), '\u00a0'.repeat(30)];

function randomFile(seed: number, lines: number): Buffer {
  let s = seed;
  const next = (n: number) => (s = (s * 1103515245 + 12345) % 2 ** 31) % n;
  const parts: Buffer[] = [];
  for (let i = 0; i < lines; i++) {
    const line = Array.from({ length: 1 + next(3) }, () => PIECES[next(PIECES.length)]!).join('');
    parts.push(Buffer.from(line), ...(next(9) === 0 ? [Buffer.from([0xff])] : []), Buffer.from(next(5) === 0 ? '\r\n' : '\n'));
  }
  if (next(2) === 0) parts.push(Buffer.from(' \u00a0 ')); // a last line without newline
  return Buffer.concat(parts);
}

/** [first line, blank lines before] of every block, counted from the whole file. */
function reference(bytes: Buffer, blockBytes: number): [number, number][] {
  const starts: { at: number; blank: boolean }[] = [];
  for (let at = 0; at < bytes.length;) {
    const newline = bytes.indexOf(0x0a, at);
    const end = newline < 0 ? bytes.length : newline;
    const text = new TextDecoder('utf-8').decode(bytes.subarray(at, end));
    starts.push({ at, blank: text.trim() === '' });
    at = end + 1;
  }
  return Array.from({ length: blockCount(bytes.length, blockBytes) }, (_, block) => {
    const before = starts.filter((l) => l.at < block * blockBytes);
    return [before.length, before.filter((l) => l.blank).length];
  });
}

it('counts the lines and the blank lines before each block as a whole-file reading does, at any block size and from any block', async () => {
  for (const seed of [1, 2, 3, 4]) {
    const bytes = randomFile(seed, 400);
    const path = join(dir, `file-${seed}.txt`);
    await writeFile(path, bytes);
    for (const blockBytes of [7, 64, 100, 1000]) {
      const expected = reference(bytes, blockBytes);
      // Every block in order (each count starts from the last), and every other one (longer skips).
      for (const step of [1, 2, 5]) {
        const counter = new LineCounter(path, blockBytes);
        for (let block = 0; block < expected.length; block += step) {
          const { line, blank } = await counter.start(block);
          assert.deepEqual([line, blank], expected[block], `seed ${seed}, blocks of ${blockBytes}, step ${step}, block ${block}`);
        }
      }
    }
  }
});

it('isBlankBytes is trim() of the decoded line, bytes that are not UTF-8 not blank', () => {
  for (const text of ['', ' \t\r', '\u00a0', '\ufeff \u3000', 'x', ' \u00a0x', 'é']) assert.equal(isBlankBytes(Buffer.from(text)), text.trim() === '', JSON.stringify(text));
  assert.equal(isBlankBytes(Buffer.from([0x20, 0xff])), false);
});
