/**
 * The baseline for load/unload cycles: one onnxruntime session of a model created, run and released
 * over and over in one plain Node process (on its main thread, with as many intra-op threads as Vireo
 * gives a model on a thread of its own), nothing else. After each cycle's calls, prints
 * `{"cycle": n, "rss": bytes}` (resident set, as VmRSS, 300 ms after the calls, as bench/many-models.ts samples Vireo),
 * then releases the session.
 * Usage: tsx bench/lib/plain-cycles.ts <model.onnx> <cycles> <calls per cycle> <input name> <dims,…>
 */
import * as ort from 'onnxruntime-node';
import { USABLE_CORES } from '../../src/core/cpu-budget.js';

const [path, cycles, calls, inputName, dims] = process.argv.slice(2) as [string, string, string, string, string];
const shape = dims.split(',').map(Number);
const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5);
for (let cycle = 1; cycle <= Number(cycles); cycle++) {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: USABLE_CORES });
  for (let i = 0; i < Number(calls); i++) await session.run({ [inputName]: new ort.Tensor('float32', data, shape) });
  await new Promise((resolve) => setTimeout(resolve, 300));
  console.log(JSON.stringify({ cycle, rss: process.memoryUsage.rss() }));
  await session.release();
}
