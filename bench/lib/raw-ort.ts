/**
 * The ceiling: onnxruntime-node called in-process with ready-made batches, no server, no wire.
 * Run in its own process. For each batch size it runs the session back to back for a while and
 * reports items/s and the per-batch latency (every item of a batch waits the whole batch).
 * Input: a JSON job in argv[2]; output: one JSON line on stdout.
 */
import * as ort from 'onnxruntime-node';
import { summarize } from './stats.js';

export interface RawJob {
  modelPath: string;
  /** Input name → [datatype, dims without the batch dimension]. */
  inputs: Record<string, ['float32' | 'int32', number[]]>;
  batchSizes: number[];
  durationMs: number;
  intraOpThreads: number;
}

export interface RawPoint { batch: number; throughput: number; p50: number; p95: number; p99: number; runs: number }

const job = JSON.parse(process.argv[2]!) as RawJob;
const session = await ort.InferenceSession.create(job.modelPath, { intraOpNumThreads: job.intraOpThreads, interOpNumThreads: 1 });
const points: RawPoint[] = [];
for (const batch of job.batchSizes) {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, [type, dims]] of Object.entries(job.inputs)) {
    const count = batch * dims.reduce((a, b) => a * b, 1);
    const data = type === 'float32' ? Float32Array.from({ length: count }, (_, i) => ((i * 7919) % 1000) / 1000) : Int32Array.from({ length: count }, (_, i) => i % 100);
    feeds[name] = new ort.Tensor(type, data, [batch, ...dims]);
  }
  await session.run(feeds);
  const latencies: number[] = [];
  const start = performance.now();
  while (performance.now() - start < job.durationMs || latencies.length < 3) {
    const t0 = performance.now();
    await session.run(feeds);
    latencies.push(performance.now() - t0);
  }
  const seconds = (performance.now() - start) / 1000;
  points.push({ batch, throughput: (latencies.length * batch) / seconds, runs: latencies.length, ...summarize(latencies) });
}
await session.release();
process.stdout.write(`${JSON.stringify(points)}\n`);
