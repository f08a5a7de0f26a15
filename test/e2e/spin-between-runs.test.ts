/**
 * onnxruntime's threads after a run: with the batch API on, a real-time model's intra-op threads stop
 * spinning once a run ends (`session.force_spinning_stop`), so a low-priority job gets the cores
 * between requests; `parameters.spin_between_runs: 1` keeps onnxruntime's default. Told apart by
 * the CPU the process spends per request at a slow, paced rate: a spinning thread burns the gaps.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mlpModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SIZES = [256, 1024, 1024, 64];
/** A thread of its own, with the whole CPU budget as intra-op threads: onnxruntime then has pool threads that can spin. */
const config = (extra: Record<string, string>) => ({
  max_batch_size: 0,
  input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [1, SIZES[0]] }],
  output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [1, SIZES.at(-1)] }],
  parameters: { execution_worker: 'dedicated', intra_op_threads: '2', ...extra },
});
const request = { inputs: [{ name: 'INPUT', shape: [1, SIZES[0]], datatype: 'FP32', data: Array.from({ length: SIZES[0]! }, (_, i) => (i % 13) / 13) }] };

async function processCpuSeconds(): Promise<number> {
  const fields = (await readFile('/proc/self/stat', 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds per request over `count` requests, each followed by a 5 ms pause. */
async function cpuPerRequest(server: TestServer, model: string, count: number): Promise<number> {
  const before = await processCpuSeconds();
  for (let i = 0; i < count; i++) {
    const answer = await server.post(`/v2/models/${model}/infer`, request);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await new Promise((r) => setTimeout(r, 5));
  }
  return ((await processCpuSeconds()) - before) / count;
}

describe('onnxruntime spinning between runs', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let batchDir: string;

  before(async () => {
    const repo = await makeRepository({
      mlp: { config: config({}), versions: { 1: mlpModel(SIZES, 3) } },
      mlp_spinning: { config: config({ spin_between_runs: '1' }), versions: { 1: mlpModel(SIZES, 3) } },
    });
    cleanup = repo.cleanup;
    batchDir = await mkdtemp(join(tmpdir(), 'vireo-spin-batches-'));
    server = await startTestServer(repo.root, { grpcPort: -1, batchDir });
  });
  after(async () => {
    await server?.close();
    await cleanup?.();
    await rm(batchDir, { recursive: true, force: true });
  });

  it('with the batch API on, a finished run leaves the cores; spin_between_runs 1 keeps spinning', async () => {
    for (const model of ['mlp', 'mlp_spinning']) await cpuPerRequest(server, model, 10); // warm both sessions
    const stopped: number[] = [];
    const spinning: number[] = [];
    for (let round = 0; round < 3; round++) {
      stopped.push(await cpuPerRequest(server, 'mlp', 60));
      spinning.push(await cpuPerRequest(server, 'mlp_spinning', 60));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    const ms = (s: number) => `${(s * 1000).toFixed(2)} ms`;
    assert.ok(median(stopped) < 0.75 * median(spinning),
      `CPU per request: stopping ${stopped.map(ms).join(', ')}; spinning ${spinning.map(ms).join(', ')}`);
  });
});
