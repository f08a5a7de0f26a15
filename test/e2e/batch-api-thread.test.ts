/**
 * A batch job's per-line work — the validation pass, parsing the lines, encoding the answers — runs
 * on its own thread, not on the main thread that serves real-time requests (job-thread.ts). Shown by
 * CPU time: over a job of wide lines on a model that computes almost nothing, the main thread's share
 * is a small part of what the other threads spent. Before, all of that work ran on the main thread.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { mlpModel } from '../../tools/modelgen/models.js';
import { ADD_CONFIG, addModel } from '../helpers/lifecycle.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const WIDTH = 256;
const LINES = 6000;

/**
 * CPU seconds of the main thread (Linux: utime + stime of /proc/thread-self/stat, in clock ticks of
 * 10 ms). Read synchronously: an asynchronous read runs on a libuv thread, whose own stat it would get.
 */
function mainThreadCpuSeconds(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const processCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

let repo: { root: string; cleanup: () => Promise<void> };
let batchDir: string;
let server: TestServer;
let client: OpenAI;

before(async () => {
  repo = await makeRepository({
    wide: { config: { max_batch_size: 64, dynamic_batching: {} }, versions: { 1: mlpModel([WIDTH, 2], 5) } },
    // A dataframe model: four named columns make up INPUT; OUTPUT = INPUT + 3.
    columns: { config: { ...ADD_CONFIG, input: [{ ...ADD_CONFIG.input[0], columns: ['a', 'b', 'c', 'd'] }] }, versions: { 1: addModel(3) } },
  });
  batchDir = await mkdtemp(join(tmpdir(), 'vireo-batch-thread-'));
  server = await startTestServer(repo.root, { batchDir, batchLimits: { partRequests: 500, maxFileBytes: 64 * 1024 * 1024 } });
  client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
});
after(async () => {
  await server.close();
  await repo.cleanup();
  await rm(batchDir, { recursive: true, force: true });
});

it("runs a job's parsing and encoding off the main thread", async () => {
  const lines = Array.from({ length: LINES }, (_, i) => JSON.stringify({
    custom_id: `w-${i}`, method: 'POST', url: '/v2/models/wide/infer',
    body: { inputs: [{ name: 'INPUT', shape: [1, WIDTH], datatype: 'FP32', data: Array.from({ length: WIDTH }, (_, j) => ((i + j) % 97) / 8) }] },
  }));
  const file = await client.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'wide.jsonl'), purpose: 'batch' });
  const [main0, all0] = [mainThreadCpuSeconds(), processCpuSeconds()];
  const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/wide/infer' as any, completion_window: '24h' });
  // Polled slowly: the polls' own work is on the main thread.
  let batch = created;
  for (let waited = 0; !['completed', 'failed', 'cancelled', 'expired'].includes(batch.status); waited += 250) {
    assert.ok(waited < 300_000, `the job did not finish: ${JSON.stringify(batch)}`);
    await new Promise((r) => setTimeout(r, 250));
    batch = await client.batches.retrieve(created.id);
  }
  const main = (mainThreadCpuSeconds()) - main0;
  const others = processCpuSeconds() - all0 - main;
  assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
  assert.deepEqual(batch.request_counts, { total: LINES, completed: LINES, failed: 0 });
  // Each answer is the model's: spot-check the count of lines and their ids in order.
  const output = (await (await client.files.content(batch.output_file_id!)).text()).split('\n').filter((l) => l !== '');
  assert.deepEqual(output.map((l) => JSON.parse(l).custom_id), lines.map((_, i) => `w-${i}`));
  assert.ok(others > 0.3, `the job's threads spent ${others.toFixed(2)} CPU-s`);
  assert.ok(main < others / 2, `main thread ${main.toFixed(2)} CPU-s, other threads ${others.toFixed(2)} CPU-s`);
});

it('reads dataframe bodies (columns) in the job thread as the REST route maps them', async () => {
  const row = (x: number) => ({ a: x, b: x / 2, c: -x, d: 100 + x });
  // Even lines carry two rows (x = i and i + 0.25), odd lines one; line 7 lacks a column. (The batch API
  // takes a body as a JSON object: dataframe columns, not records.)
  const rowsOf = (i: number) => (i % 2 === 0 ? [i, i + 0.25] : [i]).map(row);
  const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({
    custom_id: `df-${i}`, method: 'POST', url: '/v2/models/columns/infer',
    body: i === 7 ? { a: [1], b: [2], c: [3] } : Object.fromEntries(['a', 'b', 'c', 'd'].map((k) => [k, rowsOf(i).map((r) => r[k as keyof typeof r])])),
  }));
  const file = await client.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'columns.jsonl'), purpose: 'batch' });
  let batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/columns/infer' as any, completion_window: '24h' });
  for (let waited = 0; !['completed', 'failed', 'cancelled', 'expired'].includes(batch.status); waited += 100) {
    assert.ok(waited < 120_000, `the job did not finish: ${JSON.stringify(batch)}`);
    await new Promise((r) => setTimeout(r, 100));
    batch = await client.batches.retrieve(batch.id);
  }
  assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
  assert.deepEqual(batch.request_counts, { total: 40, completed: 39, failed: 1 });
  const answers = (await (await client.files.content(batch.output_file_id!)).text()).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  assert.equal(answers.length, 39);
  for (const answer of answers) {
    const i = Number(answer.custom_id.slice(3));
    const expected = rowsOf(i).flatMap((r) => Object.values(r).map((v) => Math.fround(v) + 3));
    assert.deepEqual([answer.response.body.OUTPUT].flat(2), expected, answer.custom_id);
  }
  const errors = (await (await client.files.content(batch.error_file_id!)).text()).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  assert.deepEqual(errors.map((e) => [e.custom_id, e.response.status_code]), [['df-7', 400]]);
  assert.match(errors[0].response.body.error, /\bd\b/);
});
