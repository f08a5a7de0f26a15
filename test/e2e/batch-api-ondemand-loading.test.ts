/**
 * Batch jobs for models a server loads on demand (`--model-memory-budget`: a model loads on its first
 * request and may be evicted), with the official `openai` client: a job for a model not loaded yet is
 * accepted and loads it when it runs, as a real-time request would (OIP lines and dataframe lines, which
 * are read by the loaded model's configuration); a model that cannot load fails the job with the load's
 * error in OpenAI's form. On a server with explicit model control and no budget, a model not loaded is
 * still refused at create.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { simpleModel } from '../../tools/modelgen/models.js';
import { ADD_CONFIG, addModel, waitFor } from '../helpers/lifecycle.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { add, sub } from '../helpers/simple.js';

const GIB = 1024 * 1024 * 1024;
const a = (i: number) => Array.from({ length: 16 }, (_, j) => (i * 13 + j * 7) % 101 - 50);
const b = (i: number) => Array.from({ length: 16 }, (_, j) => (i + 5 * j) % 17);
const simpleLine = (i: number, model = 'simple') => JSON.stringify({
  custom_id: `q-${i}`, method: 'POST', url: `/v2/models/${model}/infer`,
  body: { inputs: [
    { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: a(i) },
    { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: b(i) },
  ] },
});

const parseJsonl = (text: string): any[] => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
const clientOf = (server: TestServer) => new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });

async function finished(client: OpenAI, id: string) {
  return waitFor(`batch ${id} to finish`, async () => {
    const batch = await client.batches.retrieve(id);
    return ['completed', 'failed', 'expired', 'cancelled'].includes(batch.status) ? batch : undefined;
  }, 120_000);
}

async function submit(client: OpenAI, lines: string[], model: string) {
  const file = await client.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), `${model}.jsonl`), purpose: 'batch' });
  return client.batches.create({ input_file_id: file.id, endpoint: `/v2/models/${model}/infer` as any, completion_window: '24h' });
}

const indexEntry = async (server: TestServer, name: string) => (await server.post('/v2/repository/index', {})).body.find((e: any) => e.name === name);

let repo: { root: string; cleanup: () => Promise<void> };
const dirs: string[] = [];
const batchDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vireo-batch-ondemand-'));
  dirs.push(dir);
  return dir;
};

before(async () => {
  repo = await makeRepository({
    simple: { config: { max_batch_size: 8, dynamic_batching: {} }, versions: { 1: simpleModel() } },
    // A dataframe model: four named columns make up INPUT; OUTPUT = INPUT + 3.
    columns: { config: { ...ADD_CONFIG, input: [{ ...ADD_CONFIG.input[0], columns: ['w', 'x', 'y', 'z'] }] }, versions: { 1: addModel(3) } },
    broken: { config: { max_batch_size: 8 }, versions: { 1: 'not an onnx model' } },
  });
});
after(async () => {
  await repo.cleanup();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('a server that loads models on demand (--model-memory-budget)', () => {
  let server: TestServer;
  let client: OpenAI;
  before(async () => {
    // The default control mode (none): with a budget, nothing loads at start.
    server = await startTestServer(repo.root, { grpcPort: -1, batchDir: await batchDir(), modelMemoryBudget: 16 * GIB, batchLimits: { partRequests: 16 } });
    client = clientOf(server);
  });
  after(async () => {
    await server.close();
  });

  it('accepts a job for a model not loaded yet, loads it and answers every line', async () => {
    assert.deepEqual(await indexEntry(server, 'simple'), { name: 'simple', state: 'UNAVAILABLE', reason: 'not loaded (loads on first request)' });
    const lines = Array.from({ length: 50 }, (_, i) => simpleLine(i));
    const created = await submit(client, lines, 'simple');
    const batch = await finished(client, created.id);
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    assert.deepEqual(batch.request_counts, { total: 50, completed: 50, failed: 0 });
    assert.equal(batch.error_file_id, null);
    const output = parseJsonl(await (await client.files.content(batch.output_file_id!)).text());
    assert.deepEqual(output.map((o) => o.custom_id), lines.map((_, i) => `q-${i}`));
    for (const [i, o] of output.entries()) {
      assert.equal(o.response.status_code, 200);
      const outputs = Object.fromEntries(o.response.body.outputs.map((t: any) => [t.name, t.data]));
      assert.deepEqual([outputs.OUTPUT0, outputs.OUTPUT1], [add(a(i), b(i)), sub(a(i), b(i))], `line ${i}`);
    }
    assert.equal((await indexEntry(server, 'simple')).state, 'READY');
  });

  it('reads dataframe lines by the configuration of the model it loaded', async () => {
    assert.equal((await indexEntry(server, 'columns')).state, 'UNAVAILABLE');
    const rowsOf = (i: number) => [{ w: i, x: i / 2, y: -i, z: 100 + i }];
    const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({
      custom_id: `df-${i}`, method: 'POST', url: '/v2/models/columns/infer',
      body: Object.fromEntries(['w', 'x', 'y', 'z'].map((k) => [k, rowsOf(i).map((r) => r[k as keyof ReturnType<typeof rowsOf>[number]])])),
    }));
    const batch = await finished(client, (await submit(client, lines, 'columns')).id);
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    assert.deepEqual(batch.request_counts, { total: 20, completed: 20, failed: 0 });
    const answers = parseJsonl(await (await client.files.content(batch.output_file_id!)).text());
    assert.equal(answers.length, 20);
    for (const answer of answers) {
      const i = Number(answer.custom_id.slice(3));
      const expected = rowsOf(i).flatMap((r) => Object.values(r).map((v) => Math.fround(v) + 3));
      assert.deepEqual([answer.response.body.OUTPUT].flat(2), expected, answer.custom_id);
    }
  });

  it('fails a job whose model cannot load, with the load error in OpenAI\'s form', async () => {
    const created = await submit(client, [simpleLine(0, 'broken'), simpleLine(1, 'broken')], 'broken');
    const batch = await finished(client, created.id);
    assert.equal(batch.status, 'failed');
    assert.equal(batch.errors?.data?.length, 1);
    const [error] = batch.errors!.data!;
    assert.equal(error!.code, 'model_load_failed');
    assert.match(error!.message!, /^the job failed: model "broken" could not be loaded: .*model\.onnx/);
    // The server keeps serving: the model loaded by the first job still answers.
    const live = await server.post('/v2/models/simple/infer', JSON.parse(simpleLine(3)).body);
    assert.equal(live.status, 200);
  });

  it('still refuses a model the repository does not have', async () => {
    const file = await client.files.create({ file: await toFile(Buffer.from(`${simpleLine(0, 'nowhere')}\n`), 'x.jsonl'), purpose: 'batch' });
    await assert.rejects(client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/nowhere/infer' as any, completion_window: '24h' }),
      (e: any) => e.status === 404 && e.code === 'model_not_found' && /unknown model "nowhere"/.test(e.message));
  });
});

describe('explicit model control without a budget', () => {
  it('still refuses a job for a model that is not loaded', async () => {
    const server = await startTestServer(repo.root, { grpcPort: -1, batchDir: await batchDir(), modelControlMode: 'explicit', loadModels: ['columns'] });
    try {
      const client = clientOf(server);
      assert.equal((await indexEntry(server, 'simple')).state, 'UNAVAILABLE');
      const file = await client.files.create({ file: await toFile(Buffer.from(`${simpleLine(0)}\n`), 'simple.jsonl'), purpose: 'batch' });
      await assert.rejects(client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/simple/infer' as any, completion_window: '24h' }),
        (e: any) => e.status === 404 && e.code === 'model_not_found' && /in the repository but not loaded/.test(e.message) && /\/v2\/repository\/models\/simple\/load/.test(e.message));
      assert.equal((await client.batches.list()).data.length, 0);
      assert.equal((await indexEntry(server, 'simple')).state, 'UNAVAILABLE');
    } finally {
      await server.close();
    }
  });
});
