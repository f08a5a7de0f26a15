/**
 * A batch whose completion window passes while it is unfinished ends as `expired`, with what it
 * finished in the output file and every other request in the error file as `batch_expired` — each
 * custom_id exactly once across the two. The window is made to pass between two servers over one
 * --batch-dir (the first is stopped mid-job, the saved batch's `expires_at` moved into the past), so
 * the test also covers resuming from the engine's committed parts (under another --batch-part-requests).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { slowIdentityModel } from '../../tools/modelgen/models.js';
import { waitFor } from '../helpers/lifecycle.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const N = 64;
const TOTAL = 120;
const PART = 20;
const data = (i: number) => Array.from({ length: N }, (_, j) => (i * 7 + j) % 89);
const input = Array.from({ length: TOTAL }, (_, i) => JSON.stringify({
  custom_id: `row-${i}`, method: 'POST', url: '/v2/models/slow/infer',
  body: { inputs: [{ name: 'INPUT', shape: [1, N], datatype: 'FP32', data: data(i) }] },
})).join('\n');

let repo: { root: string; cleanup: () => Promise<void> };
let batchDir: string;
before(async () => {
  repo = await makeRepository({
    slow: { config: { max_batch_size: 4, instance_group: [{ count: 1, kind: 'KIND_CPU' }], parameters: { intra_op_threads: 1 } }, versions: { 1: slowIdentityModel(N, 256, 200) } },
  });
  batchDir = await mkdtemp(join(tmpdir(), 'vireo-batch-expiry-'));
});
after(async () => {
  await repo.cleanup();
  await rm(batchDir, { recursive: true, force: true });
});

const start = (partRequests = PART) => startTestServer(repo.root, { grpcPort: -1, batchDir, batchLimits: { partRequests } });
const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l));

it('expires an unfinished job: finished requests in the output, the rest in the error file as batch_expired', async () => {
  let server: TestServer | undefined = await start();
  try {
    const form = new FormData();
    form.set('purpose', 'batch');
    form.set('file', new Blob([input]), 'rows.jsonl');
    const file = await (await fetch(`${server.url}/v1/files`, { method: 'POST', body: form })).json() as { id: string };
    const created = await server.post('/v1/batches', { input_file_id: file.id, endpoint: '/v2/models/slow/infer', completion_window: '1h' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const id = created.body.id as string;
    const first = server;
    await waitFor('a committed part', async () => ((await first.get(`/v1/batches/${id}`)).body.request_counts.completed >= PART ? true : undefined));
    await server.close();
    server = undefined;

    const saved = join(batchDir, 'batches', id, 'batch.json');
    const batch = JSON.parse(await readFile(saved, 'utf8'));
    assert.equal(batch.status, 'in_progress');
    assert.ok(batch.request_counts.completed < TOTAL, 'stopped before the end');
    await writeFile(saved, JSON.stringify({ ...batch, expires_at: Math.floor(Date.now() / 1000) - 1 }));

    // Another part size on the restart: the job keeps the one it started with.
    server = await start(PART + 10);
    const second = server;
    const expired = await waitFor('the job to expire', async () => {
      const b = (await second.get(`/v1/batches/${id}`)).body;
      return b.status === 'expired' ? b : undefined;
    });
    assert.ok(expired.expired_at >= batch.created_at);
    const output = lines(await (await fetch(`${second.url}/v1/files/${expired.output_file_id}/content`)).text());
    const errors = lines(await (await fetch(`${second.url}/v1/files/${expired.error_file_id}/content`)).text());
    const done = output.length;
    assert.ok(done >= PART && done < TOTAL && done % PART === 0, `finished ${done}, in whole parts of ${PART}`);
    assert.deepEqual(expired.request_counts, { total: TOTAL, completed: done, failed: TOTAL - done });
    assert.deepEqual(output.map((o) => o.custom_id), Array.from({ length: done }, (_, i) => `row-${i}`));
    for (const o of output) assert.deepEqual(o.response.body.outputs[0].data, data(Number(o.custom_id.slice(4))), o.custom_id);
    assert.deepEqual(errors.map((e) => e.custom_id), Array.from({ length: TOTAL - done }, (_, i) => `row-${done + i}`));
    for (const e of errors) {
      assert.equal(e.response, null);
      assert.equal(e.error.code, 'batch_expired');
    }
    // The engine's parts go once the job's end is saved: their answers live on in the two files.
    const folder = join(batchDir, 'batches', id);
    await waitFor('the parts to be removed', async () => ((await readdir(folder)).join() === 'batch.json' ? true : undefined), 10_000);
  } finally {
    await server?.close();
  }
});
