/**
 * PartStore: a commit is the manifest; data files without one are debris removed on open (only the
 * caller's parts, as other shards may be writing theirs); a different identity is refused with what
 * changed, unless restart; files are checked against their manifest's hashes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { PartStore } from '../../../src/batch/part-store.js';
import type { VireoError } from '../../../src/core/errors.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-part-store-'));
after(() => rm(dir, { recursive: true, force: true }));
const bytes = (text: string) => new TextEncoder().encode(text);
const content = (rows: number, errors = 0) => ({
  results: { extension: 'jsonl', bytes: bytes('{"a":1}\n'.repeat(rows - errors)) },
  errors: errors > 0 ? bytes('{"error":1}\n'.repeat(errors)) : undefined,
  ranges: [{ source: 'in.jsonl', block: 0, firstRow: 0, rows }], rows, errors_count: errors,
});

it('commits, reopens, removes debris of uncommitted parts it owns, refuses another identity', async () => {
  const out = join(dir, 'out');
  const identity = { model: 'm', inputs: [{ path: 'in.jsonl', bytes: 10 }] };
  const store = await PartStore.open(out, identity);
  await store.commit('f00000-b000000-p00000', content(3, 1));
  await store.commit('f00000-b000001-p00000', content(2));
  await assert.rejects(store.commit('bad/../name', content(1)), /invalid part name/);
  await assert.rejects(store.commit('f00000-b000000-p00000', content(1)), /already committed/);
  // Debris: a part's data file without its manifest, a temporary file; another shard's in-progress file.
  await writeFile(join(out, 'parts', 'f00000-b000002-p00000.jsonl'), 'half');
  await writeFile(join(out, 'parts', 'f00000-b000002-p00001.jsonl.tmp-abc'), 'half');
  await writeFile(join(out, 'parts', 'f00000-b000003-p00000.jsonl.tmp-def'), 'theirs');
  const again = await PartStore.open(out, { inputs: [{ bytes: 10, path: 'in.jsonl' }], model: 'm' }, { owns: (p) => !p.includes('b000003') });
  assert.deepEqual(again.committed().map((m) => [m.part, m.rows, m.errors]), [['f00000-b000000-p00000', 3, 1], ['f00000-b000001-p00000', 2, 0]]);
  assert.deepEqual(await again.verify(), []);
  const files = (await readdir(join(out, 'parts'))).sort();
  assert.deepEqual(files, [
    'f00000-b000000-p00000.errors.jsonl', 'f00000-b000000-p00000.jsonl', 'f00000-b000000-p00000.manifest.json',
    'f00000-b000001-p00000.jsonl', 'f00000-b000001-p00000.manifest.json', 'f00000-b000003-p00000.jsonl.tmp-def',
  ]);
  await writeFile(join(out, 'parts', 'f00000-b000001-p00000.jsonl'), 'tampered');
  assert.deepEqual(await again.verify(), ['f00000-b000001-p00000.jsonl: content differs from its manifest']);

  await assert.rejects(PartStore.open(out, { ...identity, model: 'other' }), (error: VireoError) => {
    assert.equal(error.code, 'VIREO_ERR_BATCH_OUTPUT_MISMATCH');
    assert.match(error.message, /changed: model/);
    return true;
  });
  const restarted = await PartStore.open(out, { ...identity, model: 'other' }, { restart: true });
  assert.deepEqual(restarted.committed(), []);
  assert.deepEqual(await readdir(join(out, 'parts')), []);
});
