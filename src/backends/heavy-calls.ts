/**
 * Whether an instance's calls prove heavy, the rule both kinds of shared-thread instance follow
 * (pooled-instance.ts for ONNX sessions, handler/shared-handler-instance.ts for handlers): a running
 * mean of their time above HEAVY_EXECUTE_MS, once enough calls have been seen.
 *
 * A session's first calls are cold (onnxruntime's first allocations, the worker's code not yet
 * optimised): the 1 KB `simple` model took 10 and 5 ms on its first two calls, then 0.2. They are
 * left out of the mean: counted in (as before), they still weighed half of it at the fourth call, and a
 * tiny model "proved heavy" and took a thread of its own with one onnxruntime thread per core.
 */

/** Mean call time above which an instance stops sharing a thread (ms). */
export const HEAVY_EXECUTE_MS = 2;
/** A session's first calls, left out of the mean. */
const COLD_CALLS = 3;
/** Calls in the mean before it is trusted. */
const WARM_CALLS_BEFORE_VERDICT = 5;

export class HeavyCalls {
  #calls = 0;
  #meanMs = 0;

  observe(ms: number): void {
    this.#calls++;
    if (this.#calls <= COLD_CALLS) return;
    this.#meanMs = this.#calls === COLD_CALLS + 1 ? ms : 0.8 * this.#meanMs + 0.2 * ms;
  }

  /** Running mean of the calls after the cold ones (ms; 0 before any). */
  get meanMs(): number {
    return this.#meanMs;
  }

  get heavy(): boolean {
    return this.#calls >= COLD_CALLS + WARM_CALLS_BEFORE_VERDICT && this.#meanMs > HEAVY_EXECUTE_MS;
  }
}
