/**
 * Validation of a `/v1/batches` input file: duplicates are found through fixed-size digests of the
 * custom_ids, so the memory a file's ids take is bounded by its line count, not by the ids' lengths.
 * Expected line numbers are counted here from the lines written.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULT_MAX_LINE_BYTES } from '../../src/batch/line-blocks.js';
import { CustomIdDigests, validateInput } from '../../src/protocols/openai-batch/batch-input.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-batch-input-'));
after(() => rm(dir, { recursive: true, force: true }));

const URL = '/v2/models/simple/infer';
const line = (customId: string) => JSON.stringify({ custom_id: customId, method: 'POST', url: URL, body: { inputs: [] } });
/** A 512-character id (the longest allowed) that differs from its neighbours only in its last characters. */
const longId = (i: number) => '€'.repeat(506) + String(i).padStart(6, '0');

it('finds duplicates among long ids that differ only at their end, with the lines of both uses', async () => {
  const lines = Array.from({ length: 300 }, (_, i) => line(longId(i)));
  lines.splice(100, 0, ''); // an empty line keeps its number
  lines.push(line(longId(7)), line(longId(299)));
  const path = join(dir, 'dups.jsonl');
  await writeFile(path, `${lines.join('\n')}\n`);
  const { total, errors } = await validateInput(path, URL, 1000);
  assert.equal(total, 302);
  // longId(7) is on line 8; longId(299) on line 301 (after the empty line 101); the repeats on lines 302 and 303.
  assert.deepEqual(errors.map((e) => [e.code, e.line]), [['duplicate_custom_id', 302], ['duplicate_custom_id', 303]]);
  assert.match(errors[0]!.message, /already used on line 8$/);
  assert.match(errors[1]!.message, /already used on line 301$/);
});

it('refuses a file over the line limit, and bytes that are not UTF-8 with their line', async () => {
  const path = join(dir, 'limits.jsonl');
  await writeFile(path, Array.from({ length: 6 }, (_, i) => line(`id-${i}`)).join('\n'));
  const over = await validateInput(path, URL, 5);
  assert.deepEqual(over.errors.map((e) => [e.code, e.line]), [['too_many_requests', 6]]);
  await writeFile(path, Buffer.concat([Buffer.from(`${line('a')}\n${line('b')}\n`), Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a])]));
  const bad = await validateInput(path, URL, 5);
  assert.deepEqual(bad.errors.map((e) => [e.code, e.line]), [['invalid_json_line', 3]]);
});

it('a line longer than the engine reads fails validation at its line, with no path in the message', async () => {
  const path = join(dir, 'long-line.jsonl');
  await writeFile(path, `${line('a')}\n${'x'.repeat(DEFAULT_MAX_LINE_BYTES + 1)}\n${line('b')}\n`);
  const { errors } = await validateInput(path, URL, 5);
  assert.deepEqual(errors, [{ code: 'invalid_json_line', message: `line 2 is longer than ${DEFAULT_MAX_LINE_BYTES} bytes`, line: 2, param: null }]);
});

it('keeps 16 bytes per custom_id whatever its length', () => {
  const ids = new CustomIdDigests();
  for (const length of [1, 17, 64, 512]) ids.add('x'.repeat(length), length);
  ids.add(longId(1), 600);
  assert.equal(ids.size, 5);
  assert.equal(ids.idBytes, 5 * 16);
  assert.equal(ids.add('x'.repeat(64), 999), 64, 'a repeat answers the line of its first use');
});

it('holds 50,000 ids of 512 two-byte characters in a bounded heap (kept whole they would take 51 MB)', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const ids = new CustomIdDigests();
  for (let i = 0; i < 50_000; i++) ids.add(longId(i), i + 1);
  gc();
  const held = process.memoryUsage().heapUsed - before;
  assert.equal(ids.size, 50_000);
  // 50,000 × 1,024 bytes of id text = 51 MB; the digests and the map take about 70 bytes per id (3.4 MB).
  assert.ok(held < 10 * 1024 * 1024, `the digests of 50,000 ids hold ${(held / 1048576).toFixed(1)} MB`);
});
