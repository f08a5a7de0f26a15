/**
 * The main thread ⇄ instance round trip, one thread per instance (WorkerInstance) against an
 * execution-pool slot (PooledInstance, here on a shared thread beside 9 other models), interleaved:
 * `tsx bench/pool-hop.ts [rounds] [calls]`. `simple` runs in ≈ 13 µs inside onnxruntime, so this is
 * the hop's cost (docs/hot-path.md).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelInstance } from '../src/backends/backend.js';
import { ExecutionPool } from '../src/backends/execution-pool.js';
import { PooledInstance } from '../src/backends/pooled-instance.js';
import { WorkerInstance } from '../src/backends/worker-instance.js';
import { simpleModel } from '../tools/modelgen/models.js';
import { summarize } from './lib/stats.js';

const rounds = Number(process.argv[2] ?? 3);
const calls = Number(process.argv[3] ?? 3000);
const dir = await mkdtemp(join(tmpdir(), 'vireo-pool-hop-'));
const modelPath = join(dir, 'simple.onnx');
await writeFile(modelPath, simpleModel());
const options = { modelPath, executionProviders: ['cpu'], intraOpThreads: 1, interOpThreads: 1, spinWaitUs: 1000 };
const own = await WorkerInstance.start('onnx', options, () => undefined);
const pool = new ExecutionPool({ sharedWorkers: 1 });
const open = (key: string) => PooledInstance.open(pool, { key, options: { ...options, intraOpThreads: undefined }, dedicatedIntraOpThreads: 1, placement: 'shared', log: () => undefined });
const neighbours = await Promise.all(Array.from({ length: 9 }, (_, i) => open(`other-${i}`)));
const pooled = await open('simple');
const inputs = () => [0, 1].map((i) => ({ name: `INPUT${i}`, datatype: 'INT32' as const, shape: [1, 16], data: new Int32Array(16).fill(i + 1) }));

async function measure(instance: ModelInstance): Promise<number> {
  for (let i = 0; i < 500; i++) await instance.execute(inputs(), []);
  const latencies: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await instance.execute(inputs(), []);
    latencies.push(performance.now() - start);
  }
  return summarize(latencies).p50 * 1000;
}
for (let r = 0; r < rounds; r++) {
  const a = await measure(own);
  const b = await measure(pooled);
  console.log(`round ${r + 1}: execute() p50 — own thread ${a.toFixed(0)} µs, pool slot ${b.toFixed(0)} µs`);
}
await Promise.all([own.close(), pooled.close(), ...neighbours.map((n) => n.close())]);
await rm(dir, { recursive: true, force: true });
