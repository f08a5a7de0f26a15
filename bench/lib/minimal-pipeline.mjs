/**
 * The floor of a CSV → onnxruntime → file pipeline in Node, hand-written for one input shape, as a
 * second baseline for bench/batch.ts: what any batch runner on this machine pays at least, beside the
 * raw sessions of the ceiling. It does only what a batch job cannot skip:
 * - read the CSV in 1 MiB chunks and scan its bytes straight into a row-major Float32Array per batch
 *   (numbers of the form [-]digits[.digits] only, every line ending with a newline: the benchmark's own
 *   data; nothing else is checked, and bench/batch.ts checks the row count);
 * - run each batch on one of `sessions` worker threads (one single-threaded session each, as
 *   `vireo batch --instances auto` runs the model), at most two batches queued per worker so a worker
 *   never waits for the main thread;
 * - write the outputs in input order as raw float32 bytes to one file (no ids, no format, no fsync,
 *   no commit, no resumption, no error handling).
 * Plain JavaScript so that its worker threads (which have no TypeScript loader) run this same file.
 */
import { open } from 'node:fs/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

const COMMA = 44;
const NEWLINE = 10;
const MINUS = 45;
const DOT = 46;
const POWERS = Array.from({ length: 23 }, (_, k) => 10 ** k);

if (!isMainThread && workerData?.minimalPipeline) {
  const { modelPath, input, output, width } = workerData;
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  parentPort.on('message', async ({ id, buffer, rows }) => {
    const results = await session.run({ [input]: new ort.Tensor('float32', new Float32Array(buffer, 0, rows * width), [rows, width]) });
    parentPort.postMessage({ id, data: results[output].data });
  });
  parentPort.postMessage('ready');
}

/**
 * @param {{ csvPath: string, outPath: string, modelPath: string, input: string, output: string, width: number, batch: number, sessions: number }} job
 * @returns {Promise<{ rows: number, seconds: number, rowsPerSecond: number }>} timed from the first read (sessions open) to the last byte written
 */
export async function runMinimalPipeline(job) {
  const workers = await Promise.all(Array.from({ length: job.sessions }, () => new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { minimalPipeline: true, modelPath: job.modelPath, input: job.input, output: job.output, width: job.width } });
    worker.once('error', reject);
    worker.once('message', () => resolve(worker));
  })));
  const queued = workers.map(() => 0);
  /** Outputs by batch id until their turn to be written. */
  const done = new Map();
  let nextToWrite = 0;
  let writing = Promise.resolve();
  let wake = () => {};
  const out = await open(job.outPath, 'w');
  for (const [w, worker] of workers.entries()) {
    worker.on('message', ({ id, data }) => {
      queued[w]--;
      done.set(id, data);
      // In order: a batch is written once every batch before it is.
      while (done.has(nextToWrite)) {
        const bytes = done.get(nextToWrite);
        done.delete(nextToWrite++);
        writing = writing.then(() => out.write(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
      }
      wake();
    });
  }
  const send = async (buffer, rows, id) => {
    for (;;) {
      const w = queued.indexOf(Math.min(...queued));
      if (queued[w] < 2) {
        queued[w]++;
        workers[w].postMessage({ id, buffer, rows }, [buffer]);
        return;
      }
      await new Promise((resolve) => { wake = resolve; });
    }
  };

  const started = performance.now();
  const file = await open(job.csvPath, 'r');
  const chunk = Buffer.allocUnsafe(1 << 20);
  let carry = 0;
  let position = 0;
  let header = true;
  let batch = new Float32Array(job.batch * job.width);
  let row = 0;
  let rows = 0;
  let batches = 0;
  for (;;) {
    const { bytesRead } = await file.read(chunk, carry, chunk.length - carry, position);
    position += bytesRead;
    const end = carry + bytesRead;
    let lineStart = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, lineStart);
      if (newline < 0 || newline >= end) break;
      if (header) {
        header = false;
      } else if (newline > lineStart) {
        // One line: cells straight into the batch, row-major.
        let at = lineStart;
        let cell = row * job.width;
        while (at < newline) {
          let negative = false;
          if (chunk[at] === MINUS) { negative = true; at++; }
          let mantissa = 0;
          let fraction = -1;
          let code = 0;
          for (; at < newline && (code = chunk[at]) !== COMMA; at++) {
            if (code === DOT) fraction = 0;
            else { mantissa = mantissa * 10 + (code - 48); if (fraction >= 0) fraction++; }
          }
          const value = fraction > 0 ? mantissa / POWERS[fraction] : mantissa;
          batch[cell++] = negative ? -value : value;
          at++;
        }
        if (++row === job.batch) {
          await send(batch.buffer, row, batches++);
          rows += row;
          batch = new Float32Array(job.batch * job.width);
          row = 0;
        }
      }
      lineStart = newline + 1;
    }
    if (bytesRead === 0) break;
    carry = end - lineStart;
    chunk.copy(chunk, 0, lineStart, end);
  }
  if (row > 0) {
    await send(batch.buffer, row, batches++);
    rows += row;
  }
  await file.close();
  while (nextToWrite < batches) await new Promise((resolve) => { wake = resolve; });
  await writing;
  await out.close();
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  return { rows, seconds, rowsPerSecond: rows / seconds };
}
