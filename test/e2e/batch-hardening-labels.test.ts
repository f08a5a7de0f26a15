/**
 * A `vireo batch` job's identity covers its model's label files (`output[].label_filename`): rerun
 * into the same output, the job resumes while the labels file is unchanged (even rewritten with the
 * same bytes) and is refused, naming the file, once its content changed, as for a changed model file.
 * Expected outputs: the MLP's reference implementation.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { runBatch } from '../../src/app/run-batch.js';
import { silentLogger } from '../../src/logging/logger.js';
import { mlpReference } from '../../tools/modelgen/models.js';
import { TABULAR_SEED, TABULAR_SIZES } from '../../tools/prepare-examples.js';

const root = join(import.meta.dirname, '..', '..');
let dir: string;
let repo: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-labels-'));
  repo = join(dir, 'models');
  // A copy of the tabular example (its config names labels.txt), so that its labels can change.
  const from = join(root, 'examples', 'models', 'tabular');
  await mkdir(join(repo, 'tabular', '1'), { recursive: true });
  for (const file of ['config.yaml', 'labels.txt', join('1', 'model.onnx')]) await copyFile(join(from, file), join(repo, 'tabular', file));
});
after(() => rm(dir, { recursive: true, force: true }));

it('a changed labels file refuses the rerun of a job into its output, naming the file; the same labels resume it', async () => {
  const rows = Array.from({ length: 10 }, (_, i) => [1 + i / 10, 2 + (i % 3) / 4, 3 - i / 5, (i % 4) / 2]);
  const input = join(dir, 'rows.csv');
  await writeFile(input, `sepal_length,sepal_width,petal_length,petal_width\n${rows.map((r) => r.join(',')).join('\n')}\n`);
  const output = join(dir, 'out');
  const job = () => runBatch({ modelRepository: repo, logger: silentLogger(), loadModels: ['tabular'], model: 'tabular', inputs: [input], output, outputFormat: 'jsonl', partRows: 4 });

  const first = await job();
  assert.equal(first.rows, 10);
  const expected = mlpReference(TABULAR_SIZES, TABULAR_SEED, Float32Array.from(rows.flat()), rows.length);
  const lines: { custom_id: string; response: { body: { outputs: { data: number[] }[] } } }[] = [];
  for (const file of (await readdir(join(output, 'parts'))).filter((f) => f.endsWith('.jsonl') && !f.endsWith('.errors.jsonl')).sort()) {
    for (const line of (await readFile(join(output, 'parts', file), 'utf8')).split('\n')) if (line) lines.push(JSON.parse(line));
  }
  assert.deepEqual(lines.map((l) => l.custom_id), rows.map((_, i) => String(i)));
  for (const l of lines) l.response.body.outputs[0]!.data.forEach((v, k) => assert.ok(Math.abs(v - expected[Number(l.custom_id) * 3 + k]!) < 1e-4));

  // The same labels, rewritten byte for byte: the job is the same one, and resumes.
  const labels = join(repo, 'tabular', 'labels.txt');
  await writeFile(labels, await readFile(labels));
  const again = await job();
  assert.deepEqual([again.rows, again.resumedRows], [0, 10]);

  // One label renamed: a different job, refused by the file's name.
  await writeFile(labels, (await readFile(labels, 'utf8')).replace(/^[^\n]+/, 'renamed'));
  await assert.rejects(job(), (error: Error) => /holds the output of a different job \(changed: the files of model "tabular" \(labels\.txt\)\)/.test(error.message));
});
