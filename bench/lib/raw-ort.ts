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
  /**
   * Sessions running side by side, each on a thread of its own with `intraOpThreads` threads
   * (default 1: one session on this thread). `session.run` holds its calling thread, so a second
   * session needs a second thread: with 2 sessions of 1 intra-op thread each, two batches run at
   * once with no synchronisation between cores, which can beat one session of 2 threads.
   */
  sessions?: number;
}

export interface RawPoint { batch: number; throughput: number; p50: number; p95: number; p99: number; runs: number }

const job = JSON.parse(process.argv[2]!) as RawJob;
if ((job.sessions ?? 1) > 1) {
  process.stdout.write(`${JSON.stringify(await sideBySide(job))}\n`);
  process.exit(0);
}
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

/** `job.sessions` copies of the loop above, each on a worker thread; items/s summed, latencies pooled. */
async function sideBySide(job: RawJob): Promise<RawPoint[]> {
  const { Worker } = await import('node:worker_threads');
  const points: RawPoint[] = [];
  for (const batch of job.batchSizes) {
    const workers = Array.from({ length: job.sessions! }, () => new Worker(sessionLoop(), { eval: true, workerData: { ...job, batch } }));
    const results = await Promise.all(workers.map((w) => new Promise<{ items: number; seconds: number; latencies: number[] }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    })));
    await Promise.all(workers.map((w) => w.terminate()));
    const latencies = results.flatMap((r) => r.latencies);
    points.push({ batch, throughput: results.reduce((sum, r) => sum + r.items / r.seconds, 0), runs: latencies.length, ...summarize(latencies) });
  }
  return points;
}

/** One session's loop on a worker thread (CommonJS, evaluated: the worker has no TypeScript loader). */
function sessionLoop(): string {
  return `
const { workerData: job, parentPort } = require('node:worker_threads');
const ort = require('onnxruntime-node');
(async () => {
  const session = await ort.InferenceSession.create(job.modelPath, { intraOpNumThreads: job.intraOpThreads, interOpNumThreads: 1 });
  const feeds = {};
  for (const [name, [type, dims]] of Object.entries(job.inputs)) {
    const count = job.batch * dims.reduce((a, b) => a * b, 1);
    const data = type === 'float32' ? Float32Array.from({ length: count }, (_, i) => ((i * 7919) % 1000) / 1000) : Int32Array.from({ length: count }, (_, i) => i % 100);
    feeds[name] = new ort.Tensor(type, data, [job.batch, ...dims]);
  }
  await session.run(feeds);
  const latencies = [];
  const start = performance.now();
  while (performance.now() - start < job.durationMs || latencies.length < 3) {
    const t0 = performance.now();
    await session.run(feeds);
    latencies.push(performance.now() - t0);
  }
  const seconds = (performance.now() - start) / 1000;
  await session.release();
  parentPort.postMessage({ items: latencies.length * job.batch, seconds, latencies });
})();
`;
}
