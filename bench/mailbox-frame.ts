/**
 * The SharedMailbox's own cost, both sides on one thread (no wake-ups, no model): one call of
 * `simple` (two INT32 [1,16] inputs, two outputs) and one of a 256-float row, written, taken,
 * answered and received. `tsx bench/mailbox-frame.ts [--checkout DIR] [--rounds N]` sets this
 * checkout beside another one, interleaved (docs/hot-path.md), and times what a copy out of shared
 * memory costs by allocation: a fresh ArrayBuffer against a slice of Buffer's pool.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Tensor } from '../src/core/tensor.js';
import { percentile } from './lib/stats.js';

const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);
const spread = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
const { values: args } = parseArgs({ options: { checkout: { type: 'string' }, rounds: { type: 'string', default: '5' } } });
type Mailbox = typeof import('../src/backends/shared-mailbox.js').SharedMailbox;
const load = async (root: string) => (await import(pathToFileURL(resolve(root, 'src/backends/shared-mailbox.ts')).href)).SharedMailbox as Mailbox;
const designs: [string, Mailbox][] = [['this checkout', await load('.')]];
if (args.checkout) designs.push([args.checkout, await load(args.checkout)]);

const calls = {
  simple: () => [0, 1].map((i): Tensor => ({ name: `INPUT${i}`, datatype: 'INT32', shape: [1, 16], data: new Int32Array(16).fill(i + 1) })),
  'MLP row': () => [{ name: 'INPUT', datatype: 'FP32', shape: [1, 256], data: new Float32Array(256).fill(0.5) } as Tensor],
};

async function cycleUs(SharedMailbox: Mailbox, inputs: () => Tensor[], n: number): Promise<number> {
  const mailbox = new SharedMailbox();
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    mailbox.trySend({ id: i, slot: 0, inputs: inputs(), outputs: [] }, 1);
    const request = mailbox.take()!;
    mailbox.answer({ id: request.id, outputs: request.inputs.map((t, k) => ({ ...t, name: `OUTPUT${k}` })), executeMs: 0.01 });
    await mailbox.receive();
  }
  return ((performance.now() - started) / n) * 1000;
}

const results = new Map<string, number[]>();
for (let round = 0; round < Number(args.rounds); round++) {
  for (const [callName, inputs] of Object.entries(calls)) {
    for (const [design, SharedMailbox] of designs) {
      const key = `${callName}, ${design}`;
      await cycleUs(SharedMailbox, inputs, 2000);
      results.set(key, [...(results.get(key) ?? []), await cycleUs(SharedMailbox, inputs, 20_000)]);
    }
  }
}
for (const [key, us] of results) console.log(`mailbox cycle, ${key}: ${median(us).toFixed(2)} µs (${spread(us, 2)})`);

// What a copy out of shared memory costs by where its bytes go (1 KiB, the MLP row).
const shared = new Float32Array(new SharedArrayBuffer(4096), 0, 256);
let sink = 0;
const copies = {
  'fresh ArrayBuffer': () => { const data = new Float32Array(256); data.set(shared); sink += data[0]!; },
  "slice of Buffer's pool": () => { const slice = Buffer.allocUnsafe(1024); const data = new Float32Array(slice.buffer, slice.byteOffset, 256); data.set(shared); sink += data[0]!; },
};
for (const [name, copy] of Object.entries(copies)) {
  const n = 200_000;
  const started = performance.now();
  for (let i = 0; i < n; i++) copy();
  console.log(`copy of 1 KiB out of shared memory into a ${name}: ${(((performance.now() - started) / n) * 1e6).toFixed(0)} ns`);
}
if (sink < 0) console.log(sink);
