/**
 * The ceiling: onnxruntime-node called in-process with ready-made batches, no server, no wire.
 * Run in its own process. For each batch size it runs the session back to back for a while and
 * reports items/s and the per-batch latency (every item of a batch waits the whole batch).
 * Input: a JSON job in argv[2]; output: one JSON line on stdout.
 */
import { Worker } from 'node:worker_threads';
// @ts-expect-error: plain JavaScript, shared with the worker threads.
import { measure } from './raw-ort-loop.mjs';
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

type Measured = Awaited<ReturnType<typeof measure>>;

/** `sessions` sessions on worker threads, their timed loops started together once all are warm. */
async function sideBySide(sessions: number, batch: number): Promise<Measured[]> {
  const start = new Int32Array(new SharedArrayBuffer(8));
  const results = Array.from({ length: sessions }, () => new Promise<Measured>((resolve, reject) => {
    const worker = new Worker(new URL('./raw-ort-loop.mjs', import.meta.url), { workerData: { raw: true, job, batch, start } });
    worker.once('message', (result) => void worker.terminate().then(() => resolve(result)));
    worker.once('error', reject);
  }));
  for (let ready = 0; ready < sessions; ready = Atomics.load(start, 0)) {
    // The main thread waits without blocking the workers' messages (a failed worker rejects above).
    const failed = await Promise.race([Atomics.waitAsync(start, 0, ready, 1000).value, Promise.race(results).then(() => 'done', () => 'failed')]);
    if (failed === 'failed') return Promise.all(results);
  }
  Atomics.store(start, 1, 1);
  Atomics.notify(start, 1);
  return Promise.all(results);
}
const points: RawPoint[] = [];
for (const batch of job.batchSizes) {
  // One session runs on this thread; more each on a worker thread of their own (session.run holds its thread).
  const sessions = job.sessions ?? 1;
  const results: { items: number; seconds: number; latencies: number[] }[] = sessions === 1
    ? [await measure(job, batch)]
    : await sideBySide(sessions, batch);
  const latencies = results.flatMap((r) => r.latencies);
  points.push({ batch, throughput: results.reduce((sum, r) => sum + r.items / r.seconds, 0), runs: latencies.length, ...summarize(latencies) });
}
process.stdout.write(`${JSON.stringify(points)}\n`);
