/**
 * Gives the C heap's free memory back to the system once a model's sessions are released (Linux, glibc).
 *
 * A session frees its weights and buffers when it is released, but glibc keeps what it freed: after its
 * first large free it raises its mmap threshold, so later large blocks (weights, tensors of a megabyte)
 * come from its heaps, where a freed block is returned only when it ends the heap, and stays resident:
 * after a 75 MB model loads, 30 MiB of it (`tsx bench/malloc-trim.ts`, README "Many models per server").
 * `malloc_trim(0)` returns every free page of every arena (madvise), not only the heaps' tops, in well
 * under a millisecond here. glibc has no setting that does this by itself, and node no binding for it,
 * so it is called through koffi (a maintained FFI with prebuilt binaries, loaded on the first unload).
 * Elsewhere (musl, macOS, Windows: no libc.so.6 with malloc_trim), and in images built by `vireo build`,
 * which leave koffi out for its size (packaging/prune-list.ts), this does nothing. VIREO_MALLOC_TRIM=0
 * turns it off.
 */
import { createRequire } from 'node:module';

type Trim = (pad: number) => number;

/** undefined: not looked up yet; null: not available here (or turned off). */
let trim: Trim | null | undefined;

function lookUp(): Trim | null {
  if (process.platform !== 'linux' || process.env.VIREO_MALLOC_TRIM === '0') return null;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    return koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as Trim;
  } catch {
    return null; // not glibc, no koffi (images) or none prebuilt for this platform: memory stays with the allocator
  }
}

/** Returns the C heap's free pages to the system; false where that is not available. */
export function trimNativeHeap(): boolean {
  if (trim === undefined) trim = lookUp();
  if (trim === null) return false;
  trim(0);
  return true;
}

let pending: NodeJS.Timeout | undefined;

/**
 * A short wait before trimming: what a load or unload frees does not all come free by the time it
 * resolves (onnxruntime's threads end, the loader's buffers are collected), and the loads of a
 * repository starting together share one trim.
 */
const TRIM_DELAY_MS = 100;

/** trimNativeHeap once, TRIM_DELAY_MS after the first call since the last trim (calls in between share it). */
export function trimNativeHeapSoon(): void {
  if (pending || trim === null) return;
  pending = setTimeout(() => {
    pending = undefined;
    trimNativeHeap();
  }, TRIM_DELAY_MS).unref();
}
