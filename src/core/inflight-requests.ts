/**
 * Inference requests in flight in this process, across servers and protocols, and the most there
 * were lately. Each one keeps a thread busy somewhere (the HTTP thread, an instance, the client
 * waiting for it), so this is how the backends judge whether a core is left idle for them to spin
 * on (backends/spin-policy.ts) — a process-wide fact, because all servers in it share the cores.
 */
import { performance } from 'node:perf_hooks';

/** How far back "lately" reaches: long enough to see a closed loop's full depth, short enough to follow a change in load. */
const WINDOW_MS = 50;

export class InflightRequests {
  #current = 0;
  #peak = 0;
  #previousPeak = 0;
  #windowStart = 0;

  begin(): void {
    if (++this.#current > this.#peak) this.#peak = this.#current;
  }

  end(): void {
    this.#current--;
  }

  get current(): number {
    return this.#current;
  }

  /** The most in flight at once over the last one to two windows. */
  recentPeak(now = performance.now()): number {
    if (now - this.#windowStart >= WINDOW_MS) {
      this.#previousPeak = now - this.#windowStart >= 2 * WINDOW_MS ? this.#current : this.#peak;
      this.#peak = this.#current;
      this.#windowStart = now;
    }
    return Math.max(this.#peak, this.#previousPeak);
  }
}

export const processInflight = new InflightRequests();
