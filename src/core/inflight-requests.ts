/**
 * Inference requests in flight in this process, across servers and protocols, and the most there
 * were lately. Each one keeps a thread busy somewhere (the HTTP thread, an instance, the client
 * waiting for it), so this is how the backends judge whether a core is left idle for them to spin
 * on (backends/spin-policy.ts) — a process-wide fact, because all servers in it share the cores.
 * Requests count from admission (server/request-admission.ts); a batch job's calls count while they
 * run on the background instance (backends/pooled-instance.ts), whose thread they keep busy.
 */
import { performance } from 'node:perf_hooks';
import { RecentPeak } from './recent-peak.js';

/** How far back "lately" reaches: long enough to see a closed loop's full depth, short enough to follow a change in load. */
const WINDOW_MS = 50;

export class InflightRequests {
  #current = 0;
  readonly #peak = new RecentPeak(WINDOW_MS);

  begin(): void {
    this.#peak.note(++this.#current);
  }

  end(): void {
    this.#current--;
  }

  get current(): number {
    return this.#current;
  }

  /** The most in flight at once over the last one to two windows. */
  recentPeak(now = performance.now()): number {
    this.#peak.roll(now, this.#current);
    return this.#peak.value;
  }
}

export const processInflight = new InflightRequests();
