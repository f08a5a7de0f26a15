/**
 * Batch jobs survive the server: a `vireo serve` process stopped mid-job (SIGTERM, then kill -9)
 * and started again over the same --batch-dir resumes the job from its last committed part and
 * ends with every custom_id answered exactly once, with the right values (an identity model, so
 * the expected output is the request's own input).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { slowIdentityModel } from '../../tools/modelgen/models.js';
import { startChildServer, type ChildServer } from '../helpers/child-server.js';
import { waitFor } from '../helpers/lifecycle.js';
import { makeRepository } from '../helpers/repository.js';

const N = 64;
const TOTAL = 160;
const PART = 20;
const data = (i: number) => Array.from({ length: N }, (_, j) => (i * 13 + j) % 97);
const input = Array.from({ length: TOTAL }, (_, i) => JSON.stringify({
  custom_id: `row-${i}`, method: 'POST', url: '/v2/models/slow/infer',
  body: { inputs: [{ name: 'INPUT', shape: [1, N], datatype: 'FP32', data: data(i) }] },
})).join('\n');

async function api(url: string, path: string, init?: RequestInit): Promise<any> {
  const response = await fetch(url + path, init);
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
  return path.endsWith('/content') ? text : JSON.parse(text);
}

async function submit(url: string): Promise<string> {
  const form = new FormData();
  form.set('purpose', 'batch');
  form.set('file', new Blob([input]), 'rows.jsonl');
  const file = await api(url, '/v1/files', { method: 'POST', body: form });
  const batch = await api(url, '/v1/batches', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input_file_id: file.id, endpoint: '/v2/models/slow/infer', completion_window: '24h' }),
  });
  return batch.id;
}

describe('batch jobs across server restarts (child process)', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await makeRepository({
      slow: { config: { max_batch_size: 4, instance_group: [{ count: 1, kind: 'KIND_CPU' }], parameters: { intra_op_threads: 1 } }, versions: { 1: slowIdentityModel(N, 256, 200) } },
    });
  });
  after(async () => { await repo.cleanup(); });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`${signal} mid-job, then a restart: the job resumes and answers every custom_id exactly once`, async () => {
      const batchDir = await mkdtemp(join(tmpdir(), 'vireo-batch-restart-'));
      const args = ['--batch-dir', batchDir, '--batch-part-requests', String(PART)];
      let child: ChildServer | undefined = await startChildServer(repo.root, args);
      try {
        const id = await submit(child.url);
        const first = child;
        const before = await waitFor('some committed parts', async () => {
          const batch = await api(first.url, `/v1/batches/${id}`);
          return batch.request_counts.completed >= 2 * PART ? batch : undefined;
        });
        assert.ok(before.request_counts.completed < TOTAL, 'stopped before the end');
        child.process.kill(signal);
        const code = await child.exit;
        if (signal === 'SIGTERM') assert.equal(code, 0, child.lines.join('\n'));
        child = await startChildServer(repo.root, args);
        const second = child;
        const batch = await waitFor('the resumed job to complete', async () => {
          const b = await api(second.url, `/v1/batches/${id}`);
          return b.status === 'completed' ? b : undefined;
        }, 180_000);
        assert.deepEqual(batch.request_counts, { total: TOTAL, completed: TOTAL, failed: 0 });
        assert.equal(batch.error_file_id, null);
        const lines = (await api(second.url, `/v1/files/${batch.output_file_id}/content`) as string).split('\n').filter(Boolean).map((l) => JSON.parse(l));
        assert.deepEqual(lines.map((l) => l.custom_id), Array.from({ length: TOTAL }, (_, i) => `row-${i}`), 'each custom_id once, in input order');
        for (const line of lines) {
          const i = Number(line.custom_id.slice(4));
          assert.deepEqual(line.response.body.outputs[0].data, data(i), line.custom_id);
        }
        assert.ok(second.lines.some((l) => l.includes('batch jobs resume')), 'the restarted server said it resumed the job');
      } finally {
        if (child && child.process.exitCode === null) {
          child.process.kill('SIGTERM');
          await child.exit;
        }
        await rm(batchDir, { recursive: true, force: true });
      }
    });
  }
});
