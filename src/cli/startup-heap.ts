/**
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
