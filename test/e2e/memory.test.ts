/**
 * Memory over the model lifecycle, measured on the real process: load/unload cycles end their
 * workers and keep RSS bounded; with a memory budget models load on their first request, report
 * their measured memory in the index, and one larger than the whole budget is refused.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { mlpModel, mlpReference } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startChildServer } from '../helpers/child-server.js';
import { startTestServer } from '../helpers/server.js';
import { ADD_CONFIG, addModel, addRequest } from '../helpers/lifecycle.js';

const SIZES = [512, 2048, 512];
const MIB = 1024 * 1024;
/** The bound stated in docs/lifecycle.md: RSS growth over 20 cycles after 3 warm-up cycles. */
const RSS_BOUND = 160 * MIB;

const threads = () => Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

describe('memory', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await makeRepository({
      mlp: { config: { max_batch_size: 4, instance_group: [{ count: 2, kind: 'KIND_CPU' }] }, versions: { 1: mlpModel(SIZES, 3) } },
      a: { config: ADD_CONFIG, versions: { 1: addModel(1) } },
      // A thread of its own: a session in a shared pool thread can reuse memory freed there before.
      b: { config: { ...ADD_CONFIG, parameters: { execution_worker: 'dedicated' } }, versions: { 1: addModel(2) } },
    });
  });
  after(async () => { await repo.cleanup(); });

  it('20 load/unload cycles end every worker and keep RSS within the stated bound', async () => {
    const server = await startTestServer(repo.root, { modelControlMode: 'explicit' });
    const input = Float32Array.from({ length: SIZES[0]! }, (_, i) => Math.sin(i));
    const expected = mlpReference(SIZES, 3, input, 1);
    const cycle = async () => {
      assert.equal((await server.post('/v2/repository/models/mlp/load', {})).status, 200);
      const response = await server.post('/v2/models/mlp/infer', { inputs: [{ name: 'INPUT', shape: [1, SIZES[0]], datatype: 'FP32', data: Array.from(input) }] });
      assert.equal(response.status, 200);
      response.body.outputs[0].data.forEach((v: number, i: number) => assert.ok(Math.abs(v - expected[i]!) < 1e-3));
      assert.equal((await server.post('/v2/repository/models/mlp/unload', {})).status, 200);
    };
    try {
      for (let i = 0; i < 3; i++) await cycle();
      const rssBefore = process.memoryUsage.rss();
      const threadsBefore = existsSync('/proc/self/status') ? threads() : 0;
      for (let i = 0; i < 20; i++) await cycle();
      const growth = process.memoryUsage.rss() - rssBefore;
      console.log(`RSS growth over 20 cycles: ${(growth / MIB).toFixed(1)} MiB`);
      assert.ok(growth < RSS_BOUND, `RSS grew ${(growth / MIB).toFixed(1)} MiB over 20 cycles (bound ${RSS_BOUND / MIB} MiB)`);
      if (threadsBefore > 0) assert.ok(threads() <= threadsBefore + 2, `threads ${threadsBefore} → ${threads()}: workers were left running`);
    } finally {
      await server.close();
    }
  });

  it('with a budget, loads on the first request and shows the measured memory', async () => {
    const server = await startTestServer(repo.root, { modelControlMode: 'explicit', modelMemoryBudget: 16 * 1024 * MIB });
    try {
      assert.equal((await server.get('/v2/health/ready')).status, 200);
      const before = (await server.post('/v2/repository/index', {})).body.find((e: any) => e.name === 'a');
      assert.deepEqual(before, { name: 'a', state: 'UNAVAILABLE', reason: 'not loaded (loads on first request)' });
      const x = [1, 2, 3, 4];
      const responses = await Promise.all([0, 1, 2, 3].map(() => server.post('/v2/models/a/infer', addRequest(x))));
      for (const r of responses) assert.deepEqual(r.body.outputs[0].data, x.map((v) => v + 1));
      const entry = (await server.post('/v2/repository/index', {})).body.find((e: any) => e.name === 'a');
      assert.equal(entry.state, 'READY');
      assert.ok(entry.memory_bytes >= addModel(1).byteLength, 'at least the model file');
    } finally {
      await server.close();
    }
  });

  it('refuses a model larger than the whole budget with 413 and a clear error', async () => {
    // A server process of its own: a load is measured by the process's RSS, and in this test process the
    // earlier tests' ended threads leave stacks and heaps that a new worker reuses without growing RSS
    // (a CI run once measured b's load under 1 MiB here and answered 200).
    const server = await startChildServer(repo.root, ['--model-control-mode', 'explicit', '--model-memory-budget', String(MIB)]);
    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: await response.json() as { error: string } };
    };
    try {
      const mlpFile = mlpModel(SIZES, 3).byteLength;
      const refused = await post('/v2/models/mlp/infer', { inputs: [{ name: 'INPUT', shape: [1, 512], datatype: 'FP32', data: new Array(512).fill(0) }] });
      assert.equal(refused.status, 413);
      assert.match(refused.body.error, new RegExp(`model "mlp" needs at least ${2 * mlpFile} bytes, more than the whole memory budget of 1048576 bytes`));
      // The add model's file fits, but loading it (a worker and a session) measures more than 1 MiB.
      const measured = await post('/v2/repository/models/b/load', {});
      assert.equal(measured.status, 413);
      assert.match(measured.body.error, /model "b" uses \d+ bytes, more than the whole memory budget of 1048576 bytes/);
      assert.equal((await post('/v2/models/b/infer', addRequest([1, 2, 3, 4]))).status, 413);
    } finally {
      server.process.kill('SIGTERM');
      await server.exit;
    }
  });
});
