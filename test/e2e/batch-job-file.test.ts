/**
 * A job reads its output folder's job.json once: the part size a rerun keeps (batch-job.ts) and the
 * check that the folder is this job's (PartStore.open) come from the same read, on a first run, a
 * resumed run, a refused run of another job and a --restart. The reads are counted through node's
 * fs/promises (syncBuiltinESMExports carries the mock into the modules' named imports); what the runs
 * do is checked as before: resumed rows, the part size kept, the refusal naming what changed.
 */
import assert from 'node:assert/strict';
import fsPromises from 'node:fs/promises';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it, mock } from 'node:test';
import { runBatch, type RunBatchOptions } from '../../src/app/run-batch.js';
import type { VireoError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/logging/logger.js';

const root = join(import.meta.dirname, '..', '..');
let dir: string;
let repo: string;
let input: string;
let jobFileReads = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-job-file-'));
  repo = join(dir, 'models');
  await mkdir(repo);
  await symlink(join(root, 'examples', 'models', 'simple'), join(repo, 'simple'));
  input = join(dir, 'rows.jsonl');
  const line = (i: number) => JSON.stringify({ custom_id: `r${i}`, body: { inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, k) => i + k) })) } });
  await writeFile(input, `${Array.from({ length: 10 }, (_, i) => line(i)).join('\n')}\n`);
  const readFileOf = fsPromises.readFile;
  mock.method(fsPromises, 'readFile', function (this: unknown, ...args: Parameters<typeof readFileOf>) {
    if (typeof args[0] === 'string' && args[0].endsWith('job.json')) jobFileReads++;
    return readFileOf.apply(this, args);
  });
  syncBuiltinESMExports();
});
after(async () => {
  mock.restoreAll();
  syncBuiltinESMExports();
  await rm(dir, { recursive: true, force: true });
});

const job = (options: Partial<RunBatchOptions>) =>
  runBatch({ modelRepository: repo, logger: silentLogger(), model: 'simple', loadModels: ['simple'], inputs: [input], output: join(dir, 'out'), instances: 1, ...options });

/** The reads of job.json `run` makes (counted in this process: the model's workers never read it). */
async function reads(run: () => Promise<unknown>): Promise<number> {
  jobFileReads = 0;
  await run();
  return jobFileReads;
}

it('job.json is read once per run: first, resumed, refused and restarted', async () => {
  // A first run finds none there (the one read: ENOENT) and fixes its part size, 8 rows (one batch).
  assert.equal(await reads(() => job({ partRows: 8 })), 1);
  const fixed = JSON.parse(await readFile(join(dir, 'out', 'job.json'), 'utf8')) as { partRows: number };
  assert.equal(fixed.partRows, 8);

  // A rerun without --part-rows keeps the job's part size (from that one read) and resumes every row.
  let resumed: Awaited<ReturnType<typeof job>> | undefined;
  assert.equal(await reads(async () => { resumed = await job({}); }), 1);
  assert.deepEqual([resumed!.rows, resumed!.resumedRows], [0, 10]);

  // Another part size is another job: refused, naming what changed.
  assert.equal(await reads(() => assert.rejects(job({ partRows: 16 }), (error: VireoError) => {
    assert.equal(error.code, 'VIREO_ERR_BATCH_OUTPUT_MISMATCH');
    assert.match(error.message, /changed: partRows/);
    return true;
  })), 1);

  // --restart discards it and runs every row again under the new part size.
  let restarted: Awaited<ReturnType<typeof job>> | undefined;
  assert.equal(await reads(async () => { restarted = await job({ partRows: 16, restart: true }); }), 1);
  assert.deepEqual([restarted!.rows, restarted!.resumedRows], [10, 0]);
  assert.equal((JSON.parse(await readFile(join(dir, 'out', 'job.json'), 'utf8')) as { partRows: number }).partRows, 16);
});
