/**
 * The main thread ⇄ instance worker round trip on its own: `tsx bench/worker-hop.ts [spin_wait_us]`
 * runs `simple` in one ONNX worker instance and times back-to-back execute() calls from the main
 * thread (docs/hot-path.md). With 0 the worker parks between calls; the default lets it spin.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerInstance } from '../src/backends/worker-instance.js';
import { simpleModel } from '../tools/modelgen/models.js';
import { summarize } from './lib/stats.js';

const spinWaitUs = Number(process.argv[2] ?? 1000);
const dir = await mkdtemp(join(tmpdir(), 'vireo-hop-'));
await writeFile(join(dir, 'simple.onnx'), simpleModel());
const instance = await WorkerInstance.start('onnx', { modelPath: join(dir, 'simple.onnx'), executionProviders: ['cpu'], intraOpThreads: 1, interOpThreads: 1, spinWaitUs }, () => undefined);
const inputs = () => [0, 1].map((i) => ({ name: `INPUT${i}`, datatype: 'INT32' as const, shape: [1, 16], data: new Int32Array(16).fill(i + 1) }));
for (let i = 0; i < 2000; i++) await instance.execute(inputs(), []);
const latencies: number[] = [];
for (let i = 0; i < 10_000; i++) {
  const start = performance.now();
  await instance.execute(inputs(), []);
  latencies.push(performance.now() - start);
}
const { p50, p95, p99 } = summarize(latencies);
console.log(`execute() round trip, spin_wait_us ${spinWaitUs}: p50 ${(p50 * 1000).toFixed(0)} µs, p95 ${(p95 * 1000).toFixed(0)} µs, p99 ${(p99 * 1000).toFixed(0)} µs`);
await instance.close();
await rm(dir, { recursive: true, force: true });
