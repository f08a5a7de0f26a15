/**
 * joinParts: the committed parts of a PartStore, in part order, into one file (results or errors),
 * then a trailer; many parts without piling listeners on the output stream (no process warning).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { joinParts } from '../../../src/batch/join-parts.js';
import { PartStore } from '../../../src/batch/part-store.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-join-parts-'));
after(() => rm(dir, { recursive: true, force: true }));
const bytes = (text: string) => new TextEncoder().encode(text);

it('joins 40 parts in part order, errors apart, with a trailer, and warns of nothing', async () => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  try {
    const store = await PartStore.open(join(dir, 'job'), { test: 1 });
    const results: string[] = [];
    const errors: string[] = [];
    // Committed out of order: the join follows the names (input order), not the commits.
    for (const p of [...Array(40).keys()].reverse()) {
      const name = `f00000-b000000-p${String(p).padStart(5, '0')}`;
      const ok = `{"row":${p * 2}}\n{"row":${p * 2 + 1}}\n`;
      const bad = p % 3 === 0 ? `{"error":${p}}\n` : '';
      results[p] = ok;
      errors[p] = bad;
      await store.commit(name, { results: { extension: 'jsonl', bytes: bytes(ok) }, errors: bytes(bad), ranges: [], rows: 2, errors_count: bad ? 1 : 0 });
    }
    const out = join(dir, 'out.jsonl');
    const written = await joinParts(store.read('results'), out);
    assert.equal(await readFile(out, 'utf8'), results.join(''));
    assert.equal(written, Buffer.byteLength(results.join('')));
    const err = join(dir, 'err.jsonl');
    await joinParts(store.read('errors'), err, '{"expired":true}\n');
    assert.equal(await readFile(err, 'utf8'), `${errors.join('')}{"expired":true}\n`);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings.map((w) => w.message), []);
  } finally {
    process.off('warning', onWarning);
  }
});
