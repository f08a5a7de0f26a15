/**
 * Cooperative time slicing for a batch job's work on the main thread. Parsing a part's lines or
 * encoding its answers is synchronous; inside a server (`/v1/batches`) a part's worth of it at once
 * would hold every real-time request that arrives meanwhile. Loops ask `pause()` between items: after
 * `sliceMs` of work the loop continues on the next turn of the event loop (setImmediate runs after the
 * poll phase), so waiting I/O — real-time requests — goes first. `vireo batch` slices only the scan of
 * a CSV part's numbers (csv-source.ts): what waits there is an instance's next batch.
 */
/** What a sliced loop asks between items: undefined to go on, or a promise of its next turn. */
export interface Slicer {
  pause(): Promise<void> | undefined;
}

export class TimeSlicer implements Slicer {
  #since = performance.now();

  constructor(readonly sliceMs: number) {}

  /** undefined while the slice lasts (no promise, no await); after it, a promise of the next turn. */
  pause(): Promise<void> | undefined {
    if (performance.now() - this.#since < this.sliceMs) return undefined;
    return new Promise((resolve) => setImmediate(() => {
      this.#since = performance.now();
      resolve();
    }));
  }
}

/** `items.map(fn)`, pausing between items when a slicer is given. */
export async function mapSliced<T, U>(items: readonly T[], fn: (item: T, index: number) => U, slicer: TimeSlicer | undefined): Promise<U[]> {
  if (!slicer) return items.map(fn);
  const out: U[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const pause = slicer.pause();
    if (pause) await pause;
    out[i] = fn(items[i]!, i);
  }
  return out;
}
