/**
 * `vireo batch` over JSONL: a line whose data or parameters hold a number literal beyond the double range
 * (`1e400`, which JSON.parse reads as Infinity) fails alone with the REST route's reason; the lines
 * around it, and the largest double for FP64, are answered. A real run of the engine (runBatch, the
 * CLI's composition root) over identity models; expected values are the lines' own numbers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { runBatch } from '../../src/app/run-batch.js';
import { silentLogger } from '../../src/logging/logger.js';
import { identityModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';

const MAX_DOUBLE = '1.7976931348623157e308';
let dir: string;
let repo: { root: string; cleanup: () => Promise<void> };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-overflow-'));
  repo = await makeRepository({
    id_fp64: { config: { max_batch_size: 8 }, versions: { 1: identityModel('DOUBLE') } },
    id_fp32: { config: { max_batch_size: 8 }, versions: { 1: identityModel('FLOAT') } },
  });
});
after(async () => {
  await repo.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function lines(output: string, errors: boolean): Promise<Record<string, any>[]> {
  const found = [];
  for (const file of (await readdir(join(output, 'parts'))).sort().filter((f) => f.endsWith('.jsonl') && f.endsWith('.errors.jsonl') === errors)) {
    for (const line of (await readFile(join(output, 'parts', file), 'utf8')).split('\n')) if (line) found.push(JSON.parse(line) as Record<string, any>);
  }
  return found;
}

async function job(model: string, datatype: string, rows: [string, string, string?][]) {
  const input = join(dir, `${model}.jsonl`);
  const text = rows.map(([id, data, parameters]) => `{"custom_id": "${id}", "body": {"inputs": [{"name": "INPUT", "datatype": "${datatype}", "shape": [1, 2], "data": ${data}}]${parameters ? `, "parameters": ${parameters}` : ''}}}`);
  await writeFile(input, `${text.join('\n')}\n`);
  const output = join(dir, `out-${model}`);
  const result = await runBatch({ modelRepository: repo.root, logger: silentLogger(), model, loadModels: [model], inputs: [input], output, outputFormat: 'jsonl' });
  return { result, answers: await lines(output, false), errors: await lines(output, true) };
}

const beyondDouble = (element: number, datatype: string, negative = false) =>
  new RegExp(`input "INPUT": element ${element} \\(a number literal beyond ${negative ? '-' : ''}1\\.7976931348623157e308, read as ${negative ? '-' : ''}Infinity\\) is beyond the range of ${datatype}`);

it('FP64: the lines with 1e400, -1e309 or such a parameter fail alone; the largest double is answered', async () => {
  const { result, answers, errors } = await job('id_fp64', 'FP64', [
    ['a', '[1, 2]'], ['huge', '[3, 1e400]'], ['max', `[${MAX_DOUBLE}, 4]`], ['tiny', '[-1e309, 5]'], ['param', '[6, 7]', '{"scale": 1e400}'], ['b', '[8, 9]'],
  ]);
  assert.deepEqual([result.rows, result.errors], [6, 3]);
  assert.deepEqual(Object.fromEntries(answers.map((a) => [a.custom_id, a.response.body.outputs[0].data])), { a: [1, 2], max: [Number.MAX_VALUE, 4], b: [8, 9] });
  assert.deepEqual(errors.map((e) => e.custom_id), ['huge', 'tiny', 'param']);
  assert.match(errors[0]!.error.message, beyondDouble(1, 'FP64'));
  assert.match(errors[1]!.error.message, beyondDouble(0, 'FP64', true));
  assert.match(errors[2]!.error.message, /request: parameter "scale" is a number literal beyond the range of a double/);
});

it('FP32: 1e400 fails its line as the largest double does (beyond FP32 either way)', async () => {
  const { answers, errors } = await job('id_fp32', 'FP32', [['a', '[1, 2]'], ['huge', '[1e400, 3]'], ['max', `[4, ${MAX_DOUBLE}]`], ['b', '[0.5, 6]']]);
  assert.deepEqual(answers.map((a) => [a.custom_id, a.response.body.outputs[0].data]), [['a', [1, 2]], ['b', [0.5, 6]]]);
  assert.deepEqual(errors.map((e) => e.custom_id), ['huge', 'max']);
  assert.match(errors[0]!.error.message, beyondDouble(0, 'FP32'));
  assert.match(errors[1]!.error.message, /element 1 \(1\.7976931348623157e\+308\) is beyond the range of FP32/);
});
