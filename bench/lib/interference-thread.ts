/**
 * One thread of bench/interference.ts (started through core/esm-bundle.ts's spawnWorkerEntry, which
 * compiles it for a worker thread as it does Vireo's own worker entries).
 * Roles (workerData.role):
 * - `realtime`: one session at normal priority (the model's intra-op threads, spinning stopped after
 *   each run as on a server with the batch API) runs one row at a time, paced open-loop at `gapMs`
 *   between the starts of runs; it posts the duration of every run.
 * - `job`: one single-threaded session at nice 19 and SCHED_IDLE (lowerThisThread, as Vireo's background
 *   instance runs a batch job) runs `batch` rows back to back; it posts the rows done. With `polite`, it starts a run
 *   only while the real-time thread has no run in flight (a shared flag), the most a scheduler that
 *   never preempts a run can do to stay out of the way.
 * Both stop when the shared stop flag is set.
 */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { lowerThisThread } from '../../src/core/thread-priority.js';

export interface ThreadData {
  role: 'realtime' | 'job';
  modelPath: string;
  width: number;
  intraOpThreads: number;
  /** `job`: rows per run. */
  batch?: number;
  /** `realtime`: ms between the starts of runs. */
  gapMs?: number;
  /** `job`: start a run only while no real-time run is in flight. */
  polite?: boolean;
  /** Int32 [0]: stop, [1]: the real-time thread has a run in flight. */
  flags: SharedArrayBuffer;
}

const { role, modelPath, width, intraOpThreads, batch = 1, gapMs = 0, flags, polite = false } = workerData as ThreadData;
const shared = new Int32Array(flags);

if (role === 'job' && !lowerThisThread(19, true).idlePolicy) process.stderr.write('[interference] no chrt here: the job thread runs at nice 19 only\n');

const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: intraOpThreads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  extra: { session: { force_spinning_stop: '1' } },
});
const rows = role === 'job' ? batch : 1;
const data = Float32Array.from({ length: rows * width }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
const feeds = { INPUT: new ort.Tensor('float32', data, [rows, width]) };
await session.run(feeds);
parentPort!.postMessage({ ready: true });

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
if (role === 'realtime') {
  const durations: number[] = [];
  let next = performance.now();
  while (Atomics.load(shared, 0) === 0) {
    const wait = next - performance.now();
    if (wait > 0) sleep(wait);
    next += gapMs;
    Atomics.store(shared, 1, 1);
    const t0 = performance.now();
    await session.run(feeds);
    durations.push(performance.now() - t0);
    Atomics.store(shared, 1, 0);
  }
  parentPort!.postMessage({ durations });
} else {
  let done = 0;
  const start = performance.now();
  while (Atomics.load(shared, 0) === 0) {
    if (polite && Atomics.load(shared, 1) === 1) {
      sleep(0.05);
      continue;
    }
    await session.run(feeds);
    done += rows;
  }
  parentPort!.postMessage({ rows: done, seconds: (performance.now() - start) / 1000 });
}
await session.release();
