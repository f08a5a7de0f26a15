/**
 * `vireo batch` over a CSV: a part's numbers are read into typed arrays sized for the whole part, so a
 * part size whose numbers cannot fit (here --part-rows 2^24, the option's maximum, of 512 columns: a
 * RangeError from inside parsing before the bound) is refused before any input is read or job.json
 * written, on one line with exit code 3 (docs/batch.md, "Memory is bounded…"). Over the real CLI (a child process).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { mlpModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';

const root = join(import.meta.dirname, '..', '..');
const WIDTH = 512;
const columns = Array.from({ length: WIDTH }, (_, c) => `f${c}`);

interface Run { code: number | null; stdout: string; stderr: string }

function vireo(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'bin', 'vireo.js'), ...args], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error as { code?: number }).code ?? null : 0, stdout, stderr });
    });
  });
}

/** The lines a human reads: stderr without the JSON log lines and node's own warnings. */
const messages = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{') && !l.includes('ExperimentalWarning') && !l.includes('--trace-warnings'));

let dir: string;
let repo: { root: string; cleanup: () => Promise<void> };
let input: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-part-bound-'));
  repo = await makeRepository({
    wide: {
      config: {
        backend: 'onnx', max_batch_size: 64,
        input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [WIDTH], columns }],
        output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [4] }],
      },
      versions: { 1: mlpModel([WIDTH, 4]) },
    },
  });
  input = join(dir, 'wide.csv');
  await writeFile(input, `${columns.join(',')}\n${Array.from({ length: 3 }, (_, r) => columns.map((_, c) => (r + c) / 100).join(',')).join('\n')}\n`);
});
after(async () => {
  await repo.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const batch = (output: string, partRows: number) =>
  ['batch', '--model-repository', repo.root, '--model', 'wide', '--input', input, '--output', output, '--progress', 'none', '--instances', '1', '--part-rows', String(partRows)];

it('--part-rows whose CSV numbers exceed the bound: one line, exit code 3, nothing written; a part size within it runs', async () => {
  const output = join(dir, 'out-too-large');
  const refused = await vireo(batch(output, 2 ** 24));
  assert.equal(refused.code, 3, refused.stderr);
  assert.deepEqual(messages(refused.stderr), [
    `vireo batch: a CSV part of ${2 ** 24} rows (--part-rows) reads the ${WIDTH} numeric columns of model "wide" into ${2 ** 24 * WIDTH * 8} bytes (8 a cell), more than the ${2 ** 30} one part may hold; give --part-rows 262144 or less (VIREO_ERR_BATCH_INPUT_INVALID)`,
  ]);
  assert.equal(refused.stdout, '', 'no summary: no job ran');
  // Refused before job.json: a rerun without --part-rows does not inherit the refused part size.
  assert.equal(await access(join(output, 'job.json')).then(() => true, () => false), false);
  assert.deepEqual(await readdir(output).catch(() => []), []);

  const ran = await vireo(batch(join(dir, 'out-fits'), 4096));
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(JSON.parse(ran.stdout.trim().split('\n').at(-1)!).rows, 3);
});
