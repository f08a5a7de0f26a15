/**
 * The worker-thread guarantee: while a heavy model runs, the main thread's event loop keeps turning
 * (onnxruntime's session.run would otherwise block it for the whole run).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mlpModel, mlpReference } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Wide hidden layers, narrow ends: heavy compute, little JSON for the main thread to parse. */
const SIZES = [16, 4096, 4096, 16];
const SEED = 7;

function input(batch: number): number[] {
  return Array.from({ length: batch * SIZES[0]! }, (_, i) => Math.cos(i * 0.37));
}

describe('event loop stays responsive during inference', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  before(async () => {
    const repo = await makeRepository({ mlp: { config: { max_batch_size: 2048, parameters: { intra_op_threads: 1 } }, versions: { 1: mlpModel(SIZES, SEED) } } });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  it('computes the MLP as the JS reference does', async () => {
    const batch = 2;
    const x = input(batch);
    const { status, body } = await server.post('/v2/models/mlp/infer', { inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [batch, SIZES[0]], data: x }] });
    assert.equal(status, 200);
    const expected = mlpReference(SIZES, SEED, Float32Array.from(x), batch);
    assert.equal(body.outputs[0].data.length, expected.length);
    body.outputs[0].data.forEach((v: number, i: number) => assert.ok(Math.abs(v - expected[i]!) < 1e-3 * Math.max(1, Math.abs(expected[i]!)), `element ${i}: ${v} vs ${expected[i]}`));
  });

  it('a timer keeps ticking while heavy batches run', async () => {
    const batch = 2048;
    const statsBefore = (await server.get('/v2/models/mlp/stats')).body.model_stats[0].inference_stats.compute_infer;
    const body = JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [batch, SIZES[0]], data: input(batch) }] });
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 5);
    const runs = 3;
    try {
      for (let i = 0; i < runs; i++) {
        const response = await server.post('/v2/models/mlp/infer', body);
        assert.equal(response.status, 200);
      }
    } finally {
      clearInterval(timer);
    }
    const statsAfter = (await server.get('/v2/models/mlp/stats')).body.model_stats[0].inference_stats.compute_infer;
    const perBatchMs = (statsAfter.ns - statsBefore.ns) / (statsAfter.count - statsBefore.count) / 1e6;
    const longestGap = Math.max(...ticks.slice(1).map((t, i) => t - ticks[i]!));
    // Relative, not absolute: run on the main thread, each batch would stop the timer for its whole
    // duration; in a worker the longest stall stays well below one batch, however loaded the machine.
    assert.ok(ticks.length >= 10, `only ${ticks.length} ticks during ${runs} batches of ${perBatchMs.toFixed(0)} ms`);
    assert.ok(longestGap < perBatchMs / 2, `the loop stalled ${longestGap.toFixed(0)} ms; one batch computes in ${perBatchMs.toFixed(0)} ms`);
  });
});
