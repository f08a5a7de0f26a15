/**
 * The OpenAI-style batch API driven by the official `openai` npm client, unmodified, with `baseURL`
 * pointed at a real Vireo server: upload, create, poll, download, cancel, list; validation at
 * `validating` with line numbers; limits; metrics. Expected sums and differences are computed here.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { identityModel, simpleModel, slowIdentityModel } from '../../tools/modelgen/models.js';
import { buildModel } from '../../tools/modelgen/onnx-graph.js';
import { waitFor } from '../helpers/lifecycle.js';
import { makeRepository } from '../helpers/repository.js';
import { SCHED_IDLE, threadSchedules } from '../helpers/thread-nice.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { add, sub } from '../helpers/simple.js';

const row = (i: number) => Array.from({ length: 16 }, (_, j) => (i * 31 + j * 7) % 1000 - 500);
const other = (i: number) => Array.from({ length: 16 }, (_, j) => (i + j) % 13);
const simpleLine = (i: number, url = '/v2/models/simple/infer') => JSON.stringify({
  custom_id: `req-${i}`, method: 'POST', url,
  body: { inputs: [
    { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: row(i) },
    { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: other(i) },
  ] },
});

function parseJsonl(text: string): any[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
}

async function finished(client: OpenAI, id: string, timeoutMs = 120_000) {
  return waitFor(`batch ${id} to finish`, async () => {
    const batch = await client.batches.retrieve(id);
    return ['completed', 'failed', 'expired', 'cancelled'].includes(batch.status) ? batch : undefined;
  }, timeoutMs);
}

describe('batch API with the openai client', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  let batchDir: string;
  let server: TestServer;
  let client: OpenAI;

  before(async () => {
    repo = await makeRepository({
      simple: { config: { max_batch_size: 8, dynamic_batching: {} }, versions: { 1: simpleModel() } },
      replaced: { config: { max_batch_size: 8, dynamic_batching: {} }, versions: { 1: simpleModel() } },
      int64: { config: { max_batch_size: 8, dynamic_batching: {} }, versions: { 1: identityModel('INT64') } },
      slow: { config: { max_batch_size: 4, instance_group: [{ count: 1, kind: 'KIND_CPU' }], parameters: { intra_op_threads: 1 } }, versions: { 1: slowIdentityModel(64, 256, 200) } },
    });
    batchDir = await mkdtemp(join(tmpdir(), 'vireo-batch-'));
    server = await startTestServer(repo.root, { batchDir, metricsPort: 0, batchLimits: { partRequests: 50, maxFileBytes: 1024 * 1024, maxJobs: 3 } });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await server.close();
    await repo.cleanup();
    await rm(batchDir, { recursive: true, force: true });
  });

  it('runs a job: every custom_id answered once, failures in the error file, counts right', async () => {
    const lines = Array.from({ length: 230 }, (_, i) => simpleLine(i));
    // Two requests the model refuses: a wrong shape and an unknown input.
    lines[17] = JSON.stringify({ custom_id: 'bad-shape', method: 'POST', url: '/v2/models/simple/infer', body: { inputs: [{ name: 'INPUT0', shape: [1, 15], datatype: 'INT32', data: row(0).slice(1) }, { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: other(0) }] } });
    lines[101] = JSON.stringify({ custom_id: 'bad-input', method: 'POST', url: '/v2/models/simple/infer', body: { inputs: [{ name: 'NOPE', shape: [1, 16], datatype: 'INT32', data: row(0) }] } });
    const file = await client.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'simple.jsonl'), purpose: 'batch' });
    assert.equal(file.object, 'file');
    assert.equal(file.purpose, 'batch');
    assert.match(file.id, /^file-[0-9a-f]{24}$/);
    assert.equal((await client.files.retrieve(file.id)).bytes, Buffer.byteLength(`${lines.join('\n')}\n`));

    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/simple/infer' as any, completion_window: '24h', metadata: { job: 'sums' } });
    assert.equal(created.status, 'validating');
    assert.deepEqual(created.metadata, { job: 'sums' });
    const batch = await finished(client, created.id);
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    assert.deepEqual(batch.request_counts, { total: 230, completed: 228, failed: 2 });
    for (const key of ['in_progress_at', 'finalizing_at', 'completed_at'] as const) assert.ok((batch[key] ?? 0) >= created.created_at, key);

    const output = parseJsonl(await (await client.files.content(batch.output_file_id!)).text());
    assert.equal(output.length, 228);
    assert.equal(new Set(output.map((o) => o.custom_id)).size, 228);
    for (const o of output) {
      const i = Number(o.custom_id.slice(4));
      assert.equal(o.error, null);
      assert.equal(o.response.status_code, 200);
      const outputs = Object.fromEntries(o.response.body.outputs.map((t: any) => [t.name, t.data]));
      assert.deepEqual(outputs.OUTPUT0, add(row(i), other(i)), o.custom_id);
      assert.deepEqual(outputs.OUTPUT1, sub(row(i), other(i)), o.custom_id);
    }
    const errors = parseJsonl(await (await client.files.content(batch.error_file_id!)).text());
    assert.deepEqual(errors.map((e) => [e.custom_id, e.response.status_code]), [['bad-shape', 400], ['bad-input', 400]]);
    assert.match(errors[1].response.body.error, /NOPE/);
    // Output files are files like any other: listed, and deletable.
    const listed = await client.files.list();
    assert.ok(listed.data.some((f) => f.id === batch.output_file_id));
  });

  it('ran that job on a background thread at nice 19 and SCHED_IDLE, its session single-threaded; real-time threads keep nice 0', async () => {
    // The lane's session stays open LANE_IDLE_CLOSE_MS after the job, with its threads; the job's reading
    // thread has ended with the job. One intra-op thread (the model configures none): no onnxruntime pool
    // threads beside the background thread (model-budget.test.ts shows configured ones inherit its priority).
    const threads = threadSchedules();
    const nice = threads.map((t) => t.nice);
    const background = nice.filter((n) => n === 19).length;
    assert.equal(background, 1, `threads at nice 19 (all: ${nice.join(',')})`);
    assert.ok(nice.filter((n) => n === 0).length > background, 'the main thread and the model\'s own instances run at nice 0');
    // SCHED_IDLE is set through util-linux's chrt (thread-priority.ts), which Debian always has.
    const idle = threads.filter((t) => t.policy === SCHED_IDLE);
    assert.deepEqual(idle.map((t) => t.nice), nice.filter((n) => n === 19), 'exactly the nice-19 threads are SCHED_IDLE');
    // And real-time requests of the same model are answered meanwhile.
    const response = await fetch(`${server.url}/v2/models/simple/infer`, { method: 'POST', body: JSON.stringify(JSON.parse(simpleLine(3)).body) });
    assert.equal(response.status, 200);
  });

  it("runs a job on the model as its version loaded it, though its file was replaced in place since", async () => {
    // Same inputs and outputs as simple, sum and difference swapped: what a job would compute if its
    // background instance opened the file on disk now.
    const io = (name: string) => ({ name, type: 'INT32' as const, dims: ['batch', 16] });
    await writeFile(join(repo.root, 'replaced', '1', 'model.onnx'), buildModel({
      name: 'swapped', inputs: [io('INPUT0'), io('INPUT1')], outputs: [io('OUTPUT0'), io('OUTPUT1')],
      nodes: [{ op: 'Sub', inputs: ['INPUT0', 'INPUT1'], outputs: ['OUTPUT0'] }, { op: 'Add', inputs: ['INPUT0', 'INPUT1'], outputs: ['OUTPUT1'] }],
    }));
    const lines = Array.from({ length: 20 }, (_, i) => simpleLine(i, '/v2/models/replaced/infer'));
    const file = await client.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'replaced.jsonl'), purpose: 'batch' });
    const batch = await finished(client, (await client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/replaced/infer' as any, completion_window: '24h' })).id);
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    assert.deepEqual(batch.request_counts, { total: 20, completed: 20, failed: 0 });
    for (const o of parseJsonl(await (await client.files.content(batch.output_file_id!)).text())) {
      const i = Number(o.custom_id.slice(4));
      const outputs = Object.fromEntries(o.response.body.outputs.map((t: any) => [t.name, t.data]));
      assert.deepEqual(outputs.OUTPUT0, add(row(i), other(i)), o.custom_id);
      assert.deepEqual(outputs.OUTPUT1, sub(row(i), other(i)), o.custom_id);
    }
  });

  it('answers 64-bit integers beyond ±2^53 exactly, as the REST route does', async () => {
    // Written as text: JSON.parse here would round them, and so would a server that read or wrote them as Numbers.
    const values = ['9007199254740993', '-9223372036854775808', '9223372036854775807', '5'];
    const line = `{"custom_id":"big","method":"POST","url":"/v2/models/int64/infer","body":{"inputs":[{"name":"INPUT","shape":[1,4],"datatype":"INT64","data":[${values.join(',')}]}]}}`;
    const file = await client.files.create({ file: await toFile(Buffer.from(`${line}\n`), 'int64.jsonl'), purpose: 'batch' });
    const batch = await finished(client, (await client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/int64/infer' as any, completion_window: '24h' })).id);
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    assert.deepEqual(batch.request_counts, { total: 1, completed: 1, failed: 0 }, batch.error_file_id ? await (await client.files.content(batch.error_file_id)).text() : '');
    const text = await (await client.files.content(batch.output_file_id!)).text();
    assert.ok(text.includes(`"data":[${values.join(',')}]`), text);
  });

  it('fails a file at validating with the line numbers of bad JSON, a foreign url and a duplicate custom_id', async () => {
    const lines = [simpleLine(0), '{not json', simpleLine(2, '/v2/models/other/infer'), simpleLine(0), simpleLine(4)];
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'bad.jsonl'), purpose: 'batch' });
    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/simple/infer' as any, completion_window: '24h' });
    const batch = await finished(client, created.id);
    assert.equal(batch.status, 'failed');
    assert.deepEqual(batch.errors?.data?.map((e) => [e.code, e.line]), [['invalid_json_line', 2], ['mismatched_endpoint', 3], ['duplicate_custom_id', 4]]);
    assert.equal(batch.output_file_id ?? null, null);
  });

  it('cancels a running job at the next part: what finished stays in the output', async () => {
    const n = 400;
    const lines = Array.from({ length: n }, (_, i) => JSON.stringify({
      custom_id: `s-${i}`, method: 'POST', url: '/v2/models/slow/infer',
      body: { inputs: [{ name: 'INPUT', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, (_, j) => (i + j) % 17) }] },
    }));
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'slow.jsonl'), purpose: 'batch' });
    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/slow/infer' as any, completion_window: '24h' });
    await waitFor('a first committed part', async () => ((await client.batches.retrieve(created.id)).request_counts?.completed ?? 0) > 0);
    const cancelling = await client.batches.cancel(created.id);
    assert.ok(['cancelling', 'cancelled'].includes(cancelling.status), cancelling.status);
    const batch = await finished(client, created.id);
    assert.equal(batch.status, 'cancelled');
    const done = batch.request_counts!.completed;
    assert.ok(done > 0 && done < n && done % 50 === 0, `completed ${done} of ${n}, in whole parts of 50`);
    const output = parseJsonl(await (await client.files.content(batch.output_file_id!)).text());
    assert.deepEqual(output.map((o) => o.custom_id), Array.from({ length: done }, (_, i) => `s-${i}`));
    // A finished batch cannot be cancelled again.
    await assert.rejects(client.batches.cancel(created.id), (e: any) => e.status === 400);
  });

  it('lists batches newest first with cursor pagination', async () => {
    const first = await client.batches.list({ limit: 1 });
    assert.equal(first.data.length, 1);
    const all = (await client.batches.list({ limit: 100 })).data;
    assert.ok(all.length >= 3);
    assert.equal(first.data[0]!.id, all[0]!.id);
    const next = await client.batches.list({ limit: 1, after: all[0]!.id });
    assert.equal(next.data[0]!.id, all[1]!.id);
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.created_at >= all[i]!.created_at);
  });

  it('refuses what it must: unknown ids, ids that look like paths, oversize files, other purposes, other endpoints', async () => {
    await assert.rejects(client.files.retrieve('file-000000000000000000000000'), (e: any) => e.status === 404);
    const traversal = await fetch(`${server.url}/v1/files/..%2F..%2Fetc%2Fpasswd/content`);
    assert.equal(traversal.status, 404);
    await assert.rejects(client.batches.retrieve('batch_../../x'), (e: any) => e.status === 404);
    await assert.rejects(client.files.create({ file: await toFile(Buffer.alloc(1024 * 1024 + 1, 0x61), 'big.jsonl'), purpose: 'batch' }), (e: any) => e.status === 413);
    await assert.rejects(client.files.create({ file: await toFile(Buffer.from(simpleLine(1)), 'x.jsonl'), purpose: 'fine-tune' }), (e: any) => e.status === 400);
    const file = await client.files.create({ file: await toFile(Buffer.from(simpleLine(1)), 'x.jsonl'), purpose: 'batch' });
    await assert.rejects(client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }), (e: any) => e.status === 400);
    await assert.rejects(client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/missing/infer' as any, completion_window: '24h' }), (e: any) => e.status === 404);
    // A form post from a web page (text/plain, no preflight) is not read as JSON.
    const plain = await fetch(`${server.url}/v1/batches`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ input_file_id: file.id, endpoint: '/v2/models/simple/infer', completion_window: '24h' }) });
    assert.equal(plain.status, 400);
    // Nothing temporary is left behind by the refused uploads.
    assert.deepEqual((await readdir(join(batchDir, 'files'))).filter((f) => f.endsWith('.tmp')), []);
  });

  it('bounds the jobs in flight with 429', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({
      custom_id: `j-${i}`, method: 'POST', url: '/v2/models/slow/infer',
      body: { inputs: [{ name: 'INPUT', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, () => i) }] },
    }));
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'jobs.jsonl'), purpose: 'batch' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/slow/infer' as any, completion_window: '24h' })).id);
    await assert.rejects(client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/slow/infer' as any, completion_window: '24h' }), (e: any) => e.status === 429);
    // The input of an unfinished batch cannot be deleted.
    await assert.rejects(client.files.delete(file.id), (e: any) => e.status === 400);
    for (const id of ids) await client.batches.cancel(id);
    for (const id of ids) assert.equal((await finished(client, id)).status, 'cancelled');
    assert.equal((await client.files.delete(file.id)).deleted, true);
  });

  it('reports batch jobs in Prometheus metrics', async () => {
    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    assert.match(text, /^vireo_batch_jobs\{status="completed"\} [1-9]/m);
    assert.match(text, /^vireo_batch_jobs\{status="cancelled"\} [1-9]/m);
    assert.match(text, /^vireo_batch_requests_total\{outcome="failed"\} [1-9]/m);
    const completed = Number(/^vireo_batch_requests_total\{outcome="completed"\} (\d+)/m.exec(text)?.[1]);
    assert.ok(completed >= 228, String(completed));
  });
});

describe('batch API behind a control token', () => {
  it('takes the token as the openai client sends its API key, and refuses a wrong or missing one with 401', async () => {
    const repo = await makeRepository({ simple: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } } });
    const batchDir = await mkdtemp(join(tmpdir(), 'vireo-batch-token-'));
    const server = await startTestServer(repo.root, { grpcPort: -1, batchDir, controlToken: 's3cret-token' });
    try {
      const client = new OpenAI({ apiKey: 's3cret-token', baseURL: `${server.url}/v1`, maxRetries: 0 });
      const file = await client.files.create({ file: await toFile(Buffer.from(simpleLine(3)), 'one.jsonl'), purpose: 'batch' });
      const batch = await finished(client, (await client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/simple/infer' as any, completion_window: '24h' })).id);
      assert.equal(batch.status, 'completed');
      const [line] = parseJsonl(await (await client.files.content(batch.output_file_id!)).text());
      assert.deepEqual(line.response.body.outputs[0].data, add(row(3), other(3)));
      const wrong = new OpenAI({ apiKey: 'guess', baseURL: `${server.url}/v1`, maxRetries: 0 });
      await assert.rejects(wrong.batches.list(), (e: any) => e.status === 401);
      assert.equal((await fetch(`${server.url}/v1/files`)).status, 401);
    } finally {
      await server.close();
      await repo.cleanup();
      await rm(batchDir, { recursive: true, force: true });
    }
  });
});

describe('batch API off without --batch-dir', () => {
  it('answers 404 for /v1/batches', async () => {
    const repo = await makeRepository({ simple: { versions: { 1: simpleModel() } } });
    const server = await startTestServer(repo.root, { grpcPort: -1 });
    try {
      assert.equal((await server.get('/v1/batches')).status, 404);
    } finally {
      await server.close();
      await repo.cleanup();
    }
  });
});
