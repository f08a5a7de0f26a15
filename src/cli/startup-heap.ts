/**
 * V8 heap tuning of Vireo's commands, set at run time (node:v8 setFlagsFromString).
 *
 * Keeps the main thread's V8 young generation at its initial size while `vireo serve` starts.
 *
 * Loading Vireo's modules and its packages is one allocation burst in which most objects survive
 * (code, closures, schemas): V8 answers a high survival rate by growing the young generation to its
 * maximum, 2 × 16 MiB semi-spaces, and never shrinks it again — not after a full GC, not when idle — so
 * a server that has served nothing kept ≈ 30 MiB of young generation it filled once (measured with
 * v8.getHeapSpaceStatistics: new_space 32 MiB against 2 MiB with growth held; README, "Many models per
 * server"). The growth factor is read at every scavenge, so holding it at 1 during start-up and giving
 * V8 its default back once the initial load has finished costs nothing: under traffic the young
 * generation grows as V8 sees fit. (`--max-semi-space-size` cannot do this: it is read once, when the
 * isolate is created.) The flag is process-wide, so workers started meanwhile grow no faster either.
 */
import { setFlagsFromString } from 'node:v8';

/** V8's default `--semi-space-growth-factor`. */
const V8_DEFAULT_GROWTH_FACTOR = 2;
let held = false;

export function holdYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  held = true;
}

export function releaseYoungGeneration(): void {
  if (!held) return;
  held = false;
  setFlagsFromString(`--semi-space-growth-factor=${V8_DEFAULT_GROWTH_FACTOR}`);
}

/**
 * `vireo batch`'s old generation may grow to 4 × what survived the last full collection before the
 * next one. V8 derives the factor from how fast it collects; for a job's small heap (≈ 20 MiB) it came
 * out near 1.2–1.5, so the job's main thread ran a mark-compact of its whole heap every ≈ 0.5 s, on it
 * and on V8's helper threads, while onnxruntime wanted both cores. With 4 × (`tsx bench/batch-threads.ts
 * --rows 80000 --format parquet --node-args="--trace-gc --heap-growing-percent=300"`, 2 interleaved
 * pairs): 10 mark-compacts against 24–25, 20 µs a row of CPU beside onnxruntime against 24–25, for a
 * heap of at most ≈ 4 × 20 MiB. Read at every limit computation, so it applies from here on; a
 * `--heap-growing-percent` of the user's own (node's flags, NODE_OPTIONS) is left alone.
 */
export const BATCH_HEAP_GROWING_PERCENT = 300;

export function growHeapForBatchJob(): void {
  if ([...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => arg.includes('heap-growing-percent'))) return;
  setFlagsFromString(`--heap-growing-percent=${BATCH_HEAP_GROWING_PERCENT}`);
}
