/**
 * What the shared handler thread's async hook (backends/handler/handler-thread.ts: the slot entered and
 * the time each callback holds the thread) costs handler code: `tsx bench/async-hook-cost.ts [rounds]`
 * times a million awaited promises inside an AsyncLocalStorage context, without and with the same hook,
 * interleaved, each in a fresh worker thread (a hook, once enabled, stays for the thread's life).
 */
import { Worker } from 'node:worker_threads';

const rounds = Number(process.argv[2] ?? 5);
const AWAITS = 1_000_000;

const body = (hook: boolean) => `
const { AsyncLocalStorage, createHook } = require('node:async_hooks');
const { parentPort } = require('node:worker_threads');
const running = new AsyncLocalStorage();
if (${hook}) {
  const entered = new Int32Array(new SharedArrayBuffer(4));
  let current = 0, since = 0, busy = 0;
  createHook({
    before() { Atomics.store(entered, 0, running.getStore() ?? 0); current = 1; since = performance.now(); },
    after() { if (current) busy += performance.now() - since; current = 0; },
  }).enable();
}
async function work(n) { let x = 0; for (let i = 0; i < n; i++) x += await Promise.resolve(i); return x; }
running.run(1, async () => {
  await work(${AWAITS / 10});
  const start = performance.now();
  await work(${AWAITS});
  parentPort.postMessage((performance.now() - start) * 1000 / ${AWAITS});
});
`;

function measure(hook: boolean): Promise<number> {
  const worker = new Worker(body(hook), { eval: true });
  return new Promise((resolve, reject) => {
    worker.once('message', (us: number) => void worker.terminate().then(() => resolve(us)));
    worker.once('error', reject);
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const without: number[] = [];
const withHook: number[] = [];
for (let round = 0; round < rounds; round++) {
  without.push(await measure(false));
  withHook.push(await measure(true));
}
const spread = (values: number[]) => `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`;
console.log('| per awaited promise | median µs | range µs |\n|---|---|---|');
console.log(`| no hook | ${median(without).toFixed(3)} | ${spread(without)} |`);
console.log(`| the handler thread's hook | ${median(withHook).toFixed(3)} | ${spread(withHook)} |`);
console.log(`| difference of medians | ${(median(withHook) - median(without)).toFixed(3)} | |`);
