/** What `vireo batch --input` accepts (batch/input-plan.ts), and how it refuses what it cannot read. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { planInputs } from '../../../src/batch/input-plan.js';
import type { VireoError } from '../../../src/core/errors.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-input-plan-'));
after(() => rm(dir, { recursive: true, force: true }));

const refused = (pattern: RegExp) => (error: VireoError) => error.code === 'VIREO_ERR_BATCH_INPUT_INVALID' && pattern.test(error.message);

it('a file by its extension, a folder by its files', async () => {
  await writeFile(join(dir, 'rows.csv'), 'a\n1\n');
  await mkdir(join(dir, 'scans', 'sub'), { recursive: true });
  await writeFile(join(dir, 'scans', 'sub', 'one.png'), 'x');
  const planned = await planInputs([join(dir, 'rows.csv'), join(dir, 'scans')]);
  assert.deepEqual(planned.map((p) => p.kind === 'file' ? [p.kind, p.format] : [p.kind, p.files.map((f) => f.relative)]), [['file', 'csv'], ['images', ['sub/one.png']]]);
});

it('a missing path, a glob that matches nothing and a device are refused, each saying which', async () => {
  await assert.rejects(planInputs([join(dir, 'nope.jsonl')]), refused(/nope\.jsonl: no such file, folder or glob match$/));
  await assert.rejects(planInputs([join(dir, '*.parquet')]), refused(/matches no files/));
  if (existsSync('/dev/null')) await assert.rejects(planInputs(['/dev/null']), refused(/^\/dev\/null: not a regular file or folder$/));
});
