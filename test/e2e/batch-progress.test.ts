/**
 * `vireo batch --progress log` (a pod, CI: no terminal): structured log lines that a collector can
 * parse, the last one with every row; its rate counts from the job's start, as the summary's does
 * (not from the process start, which includes loading the models).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';

const root = join(import.meta.dirname, '..', '..');
const vireo = join(root, 'bin', 'vireo.js');
const ROWS = 400;
let dir: string;
let input: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-progress-'));
  input = join(dir, 'requests.jsonl');
  const lines = Array.from({ length: ROWS }, (_, i) => {
    const data = Array.from({ length: 16 }, (_, k) => (i + k) % 100);
    if (i === 10) return '{"custom_id": "broken"';
    return JSON.stringify({ custom_id: `r${i}`, body: { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data }] } });
  });
  await writeFile(input, `${lines.join('\n')}\n`);
});
after(() => rm(dir, { recursive: true, force: true }));

it('logs progress as JSON lines, the last with every row and a rate near the summary\'s', () => {
  const run = spawnSync(process.execPath, [vireo, 'batch', '--model-repository', join(root, 'examples', 'models'), '--load-model', 'simple', '--model', 'simple',
    '--input', input, '--output', join(dir, 'out'), '--progress', 'log', '--progress-interval', '1', '--log-format', 'json'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  const lines = `${run.stdout}\n${run.stderr}`.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const progress = lines.filter((l) => l.msg === 'batch progress').map((l) => l.progress);
  assert.ok(progress.length >= 2, 'a line at the start and one at the end');
  const summary = lines.find((l) => l.rowsPerSecond !== undefined && l.msg === undefined);
  assert.ok(summary, 'the summary line');
  const last = progress.at(-1)!;
  assert.deepEqual([last.shard, last.rows, last.errors, last.resumedRows], ['0/1', ROWS, 1, 0]);
  assert.ok(last.estimatedRows > 0);
  // Model loading (≈ 1 s here) took longer than the job itself: a rate from the process start would be far lower.
  assert.ok(last.rowsPerSecond >= summary.rowsPerSecond * 0.5 && last.rowsPerSecond <= summary.rowsPerSecond * 2,
    `progress ${last.rowsPerSecond} rows/s against the summary's ${summary.rowsPerSecond}`);
});
