/**
 * The worker-thread guarantee: while a heavy model runs, the main thread's event loop keeps turning
 * (onnxruntime's session.run would otherwise block it for the whole run).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mlpModel, mlpReference } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SIZES = [512, 2048, 2048, 512];
const SEED = 7;

function input(batch: number): number[] {
  return Array.from({ length: batch * SIZES[0]! }, (_, i) => Math.cos(i * 0.37));
}

describe('event loop stays responsive during inference', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  before(async () => {
    const repo = await makeRepository({ mlp: { config: { max_batch_size: 256, parameters: { intra_op_threads: 1 } }, versions: { 1: mlpModel(SIZES, SEED) } } });
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
    const batch = 256;
    const body = JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [batch, SIZES[0]], data: input(batch) }] });
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 5);
    let computeNs = 0;
    try {
      for (let i = 0; i < 3; i++) {
        const response = await server.post('/v2/models/mlp/infer', body);
        assert.equal(response.status, 200);
      }
    } finally {
      clearInterval(timer);
    }
    const stats = (await server.get('/v2/models/mlp/stats')).body.model_stats[0];
    computeNs = stats.inference_stats.compute_infer.ns;
    const longestGap = Math.max(...ticks.slice(1).map((t, i) => t - ticks[i]!));
    const computeMs = computeNs / 1e6;
    // Relative, not absolute: the loop never stalls for a large share of the time spent computing.
    assert.ok(ticks.length >= 10, `only ${ticks.length} ticks in ${computeMs.toFixed(0)} ms of compute`);
    assert.ok(longestGap < computeMs / 2, `the loop stalled ${longestGap.toFixed(0)} ms during ${computeMs.toFixed(0)} ms of compute`);
  });
});
