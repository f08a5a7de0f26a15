/**
 * One session's timed loop for bench/lib/raw-ort.ts, in plain JavaScript so that a worker thread (which
 * has no TypeScript loader) runs the same code: `measure` creates the session, runs `batch`-sized
 * feeds back to back for `durationMs` after one warm-up run, and releases it. Started as a worker,
 * it measures `workerData` and posts the result.
 *
 * `start` (sessions side by side): an Int32Array on shared memory, [sessions ready, go]. Each session
 * counts itself ready after its warm-up run and waits for go, so the timed loops of all sessions begin
 * together. Without it a session that opened first ran its first batches alone (a core and the caches
 * to itself) and the last one its final batches, and the sum of their rates counted both as if they
 * had run side by side.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

/** @returns {Promise<{ items: number, seconds: number, latencies: number[] }>} */
export async function measure(job, batch, start) {
  const session = await ort.InferenceSession.create(job.modelPath, { intraOpNumThreads: job.intraOpThreads, interOpNumThreads: 1 });
  const feeds = {};
  for (const [name, [type, dims]] of Object.entries(job.inputs)) {
    const count = batch * dims.reduce((a, b) => a * b, 1);
    const data = type === 'float32' ? Float32Array.from({ length: count }, (_, i) => ((i * 7919) % 1000) / 1000) : Int32Array.from({ length: count }, (_, i) => i % 100);
    feeds[name] = new ort.Tensor(type, data, [batch, ...dims]);
  }
  await session.run(feeds);
  if (start) {
    Atomics.add(start, 0, 1);
    Atomics.notify(start, 0);
    Atomics.wait(start, 1, 0);
  }
  const latencies = [];
  const began = performance.now();
  while (performance.now() - began < job.durationMs || latencies.length < 3) {
    const t0 = performance.now();
    await session.run(feeds);
    latencies.push(performance.now() - t0);
  }
  const seconds = (performance.now() - began) / 1000;
  await session.release();
  return { items: latencies.length * batch, seconds, latencies };
}

if (!isMainThread && workerData?.raw) parentPort.postMessage(await measure(workerData.job, workerData.batch, workerData.start));
