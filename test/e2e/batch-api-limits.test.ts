/**
 * The batch API at its edges, with the official `openai` client: a job that reaches the storage limit
 * fails by itself (the server keeps serving) and delivers what it committed; the storage count is the
 * same after a restart; errors come in OpenAI's form; list cursors that name nothing are refused;
 * `order=asc`; a cancel goes cancelling → cancelled; creates arriving together respect the jobs bound;
 * a model on disk but not loaded is named as such; the batch gauges survive a restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { simpleModel, slowIdentityModel } from '../../tools/modelgen/models.js';
import { waitFor } from '../helpers/lifecycle.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { add, sub } from '../helpers/simple.js';

const row = (i: number) => Array.from({ length: 16 }, (_, j) => (i * 17 + j * 5) % 200 - 100);
const other = (i: number) => Array.from({ length: 16 }, (_, j) => (i + 3 * j) % 11);
const simpleLine = (i: number) => JSON.stringify({
  custom_id: `q-${i}`, method: 'POST', url: '/v2/models/simple/infer',
  body: { inputs: [
    { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: row(i) },
    { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: other(i) },
  ] },
});
const slowLine = (i: number) => JSON.stringify({
  custom_id: `s-${i}`, method: 'POST', url: '/v2/models/slow/infer',
  body: { inputs: [{ name: 'INPUT', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, () => i % 7) }] },
});

const parseJsonl = (text: string): any[] => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));

async function finished(client: OpenAI, id: string) {
  return waitFor(`batch ${id} to finish`, async () => {
    const batch = await client.batches.retrieve(id);
    return ['completed', 'failed', 'expired', 'cancelled'].includes(batch.status) ? batch : undefined;
  }, 120_000);
}

/** Bytes of the files the storage limit counts: uploads and outputs, and any part still on disk. */
async function countedOnDisk(batchDir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(join(batchDir, 'files'))) if (name.endsWith('.data')) total += (await stat(join(batchDir, 'files', name))).size;
  for (const batch of await readdir(join(batchDir, 'batches'))) {
    for (const name of await readdir(join(batchDir, 'batches', batch, 'parts')).catch(() => [])) {
      if (!name.endsWith('.manifest.json')) total += (await stat(join(batchDir, 'batches', batch, 'parts', name))).size;
    }
  }
  return total;
}

const clientOf = (server: TestServer) => new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });

const storageMetric = async (server: TestServer) =>
  Number(/^vireo_batch_storage_bytes (\d+)/m.exec(await (await fetch(`${server.metricsUrl}/metrics`)).text())?.[1]);

describe('batch API limits and edges', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  let batchDir: string;
  const lines = 400;
  const input = Buffer.from(`${Array.from({ length: lines }, (_, i) => simpleLine(i)).join('\n')}\n`);
  // Room for the input and about half of the answers (each answer line is longer than its request).
  const maxDiskBytes = Math.floor(input.byteLength * 3 / 2);

  before(async () => {
    repo = await makeRepository({
      simple: { config: { max_batch_size: 8, dynamic_batching: {} }, versions: { 1: simpleModel() } },
      slow: { config: { max_batch_size: 4, instance_group: [{ count: 1, kind: 'KIND_CPU' }], parameters: { intra_op_threads: 1 } }, versions: { 1: slowIdentityModel(64, 256, 200) } },
      unloaded: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } },
    });
    batchDir = await mkdtemp(join(tmpdir(), 'vireo-batch-limits-'));
  });
  after(async () => {
    await repo.cleanup();
    await rm(batchDir, { recursive: true, force: true });
  });

  const start = () => startTestServer(repo.root, {
    grpcPort: -1, metricsPort: 0, batchDir, modelControlMode: 'explicit', loadModels: ['simple', 'slow'],
    batchLimits: { partRequests: 50, maxJobs: 3, maxDiskBytes },
  });

  it('fails a job that reaches the storage limit, keeps serving, delivers the committed answers and counts storage as the disk holds it', async () => {
    let server = await start();
    try {
      const client = clientOf(server);
      const file = await client.files.create({ file: await toFile(input, 'rows.jsonl'), purpose: 'batch' });
      const batch = await finished(client, (await client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/simple/infer' as any, completion_window: '24h' })).id);
      assert.equal(batch.status, 'failed');
      assert.equal(batch.errors?.data?.[0]?.code, 'batch_limit');
      assert.match(batch.errors?.data?.[0]?.message ?? '', /--batch-max-disk-bytes/);
      assert.ok(batch.failed_at);
      // The server is still there.
      assert.equal((await server.get('/v2/health/ready')).status, 200);
      // What was committed is in the output, in input order, with the right values.
      const done = batch.request_counts!.completed;
      assert.ok(done > 0 && done < lines && done % 50 === 0, `completed ${done} of ${lines}, in whole parts`);
      const output = parseJsonl(await (await client.files.content(batch.output_file_id!)).text());
      assert.deepEqual(output.map((o) => o.custom_id), Array.from({ length: done }, (_, i) => `q-${i}`));
      for (const [i, o] of output.entries()) {
        const outputs = Object.fromEntries(o.response.body.outputs.map((t: any) => [t.name, t.data]));
        assert.deepEqual([outputs.OUTPUT0, outputs.OUTPUT1], [add(row(i), other(i)), sub(row(i), other(i))]);
      }
      // Its parts are gone; the count is what the disk holds, and stays so across a restart.
      assert.deepEqual(await readdir(join(batchDir, 'batches', batch.id)).then((names) => names.filter((n) => n === 'parts')), []);
      assert.equal(await storageMetric(server), await countedOnDisk(batchDir));
      await server.close();
      server = await start();
      assert.equal(await storageMetric(server), await countedOnDisk(batchDir));
      // Deleting the files frees their space for the next upload.
      const again = clientOf(server);
      await assert.rejects(again.files.create({ file: await toFile(input, 'again.jsonl'), purpose: 'batch' }), (e: any) => e.status === 413);
      await again.files.delete(file.id);
      await again.files.delete(batch.output_file_id!);
      assert.equal(await storageMetric(server), 0);
      const fits = await again.files.create({ file: await toFile(input, 'again.jsonl'), purpose: 'batch' });
      assert.equal(fits.bytes, input.byteLength);
      await again.files.delete(fits.id);
      // The job's gauges come from its saved counts: a restart did not reset them.
      const metrics = await (await fetch(`${server.metricsUrl}/metrics`)).text();
      assert.match(metrics, new RegExp(`^vireo_batch_rows\\{state="completed"\\} ${done}$`, 'm'));
      assert.match(metrics, new RegExp(`^vireo_batch_rows\\{state="total"\\} ${lines}$`, 'm'));
      assert.match(metrics, /^vireo_batch_jobs\{status="failed"\} 1$/m);
      assert.match(metrics, /^vireo_batch_jobs\{status="in_progress"\} 0$/m);
    } finally {
      await server.close();
    }
  });

  it("answers errors in OpenAI's form, refuses cursors that name nothing, lists files in either order", async () => {
    const server = await start();
    try {
      const client = clientOf(server);
      await assert.rejects(client.batches.retrieve('batch_000000000000000000000000'), (e: any) => {
        assert.equal(e.status, 404);
        assert.equal(e.code, 'batch_not_found');
        assert.equal(e.type, 'invalid_request_error');
        assert.match(e.message, /^404 no batch with id "batch_0+"$/);
        return true;
      });
      // fastify's own refusal of a body is in the same form.
      const badJson = await fetch(`${server.url}/v1/batches`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"input_file_id":' });
      assert.equal(badJson.status, 400);
      const body = await badJson.json() as any;
      assert.equal(typeof body.error.message, 'string');
      assert.equal(body.error.type, 'invalid_request_error');
      // A body that claims gzip and is not: the client's fault (400), in the same form.
      const badGzip = await fetch(`${server.url}/v1/batches`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: 'not gzip at all' });
      assert.equal(badGzip.status, 400);
      assert.equal(((await badGzip.json()) as any).error.type, 'invalid_request_error');

      const a = await client.files.create({ file: await toFile(Buffer.from(simpleLine(1)), 'a.jsonl'), purpose: 'batch' });
      await new Promise((resolve) => setTimeout(resolve, 1100)); // created_at is in whole seconds
      const b = await client.files.create({ file: await toFile(Buffer.from(simpleLine(2)), 'b.jsonl'), purpose: 'batch' });
      const desc = (await client.files.list()).data.map((f) => f.id).filter((id) => id === a.id || id === b.id);
      const asc = (await client.files.list({ order: 'asc' })).data.map((f) => f.id).filter((id) => id === a.id || id === b.id);
      assert.deepEqual(desc, [b.id, a.id]);
      assert.deepEqual(asc, [a.id, b.id]);
      await client.files.delete(b.id);
      await assert.rejects(client.files.list({ after: b.id }), (e: any) => e.status === 400 && /after/.test(e.message));
      await assert.rejects(client.batches.list({ after: 'batch_junk' }), (e: any) => e.status === 400);
      assert.equal((await fetch(`${server.url}/v1/files?order=sideways`)).status, 400);

      // A model on disk but not loaded is named as such.
      await assert.rejects(client.batches.create({ input_file_id: a.id, endpoint: '/v2/models/unloaded/infer' as any, completion_window: '24h' }), (e: any) => e.status === 404 && /not loaded/.test(e.message));
      await assert.rejects(client.batches.create({ input_file_id: a.id, endpoint: '/v2/models/nowhere/infer' as any, completion_window: '24h' }), (e: any) => e.status === 404 && /unknown model/.test(e.message));
      await client.files.delete(a.id);
    } finally {
      await server.close();
    }
  });

  it('holds creates arriving together to the jobs bound, and cancels through cancelling → cancelled only', async () => {
    const server = await start();
    try {
      const client = clientOf(server);
      const file = await client.files.create({ file: await toFile(Buffer.from(Array.from({ length: 200 }, (_, i) => slowLine(i)).join('\n')), 'slow.jsonl'), purpose: 'batch' });
      const creates = await Promise.allSettled(Array.from({ length: 6 }, () => client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/slow/infer' as any, completion_window: '24h' })));
      const created = creates.filter((c) => c.status === 'fulfilled').map((c) => (c as PromiseFulfilledResult<OpenAI.Batch>).value);
      assert.equal(created.length, 3, 'three in flight at most');
      for (const refused of creates.filter((c) => c.status === 'rejected')) assert.equal((refused as PromiseRejectedResult).reason.status, 429);
      for (const batch of created) await client.batches.cancel(batch.id);
      for (const batch of created) {
        const done = await finished(client, batch.id);
        assert.equal(done.status, 'cancelled');
        assert.ok(done.cancelling_at && done.cancelled_at);
        assert.equal(done.finalizing_at ?? null, null, 'a cancel does not pass through finalizing');
      }
      await client.files.delete(file.id);
    } finally {
      await server.close();
    }
  });
});
