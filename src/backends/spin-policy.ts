/**
 * When a thread may spin instead of sleeping. Waking a parked thread costs ~50–80 µs on a
 * virtualised machine, often more than a small model's whole call; spinning avoids that, but only
 * pays while the spinning thread takes a core nobody else needs. The measure of that is the
 * process's requests in flight (core/inflight-requests.ts): each keeps a thread busy — the HTTP
 * thread, an instance, the client waiting for its answer — so while recently no more than
 * cores − 1 were in flight, one core sits idle and a spin costs nothing. (The main thread's event
 * loop utilisation, used before, is the wrong signal: at concurrency 1 the HTTP thread is busy
 * most of the time and yet hands work back and forth with the instance, never in parallel.)
 */
import { USABLE_CORES } from '../core/cpu-budget.js';

/** With at most this many requests in flight lately, a spinning thread leaves every other one a core. */
export function spinIsFree(recentInflightPeak: number, cores = USABLE_CORES): boolean {
  return cores > 1 && recentInflightPeak <= cores - 1;
}

/**
 * How long an idle instance worker spins before parking: following the recent gaps between an
 * answer and the next request, only when those gaps are short and never longer than the cap, so a
 * quiet server does not burn a core waiting (the same spin-then-block idea as onnxruntime's own
 * thread pool).
 */
export class SpinPolicy {
  readonly #capMs: number;
  #gapMs: number;
  #answeredAt: number | undefined;

  /** `capUs` 0 disables spinning. */
  constructor(capUs: number, private readonly cores = USABLE_CORES) {
    this.#capMs = capUs / 1000;
    this.#gapMs = Number.POSITIVE_INFINITY;
  }

  answered(now: number): void {
    this.#answeredAt = now;
  }

  /** A request arrived: folds the gap since the last answer into the running estimate. */
  arrived(now: number): void {
    if (this.#answeredAt === undefined) return;
    const gap = now - this.#answeredAt;
    this.#answeredAt = undefined;
    this.#gapMs = Number.isFinite(this.#gapMs) ? 0.8 * this.#gapMs + 0.2 * gap : gap;
  }

  /** Milliseconds to spin before parking now, given the host's recent peak of requests in flight. */
  spinMs(recentInflightPeak: number): number {
    if (this.#capMs === 0 || this.#answeredAt === undefined || this.#gapMs > this.#capMs) return 0;
    if (!spinIsFree(recentInflightPeak, this.cores)) return 0;
    return Math.min(this.#capMs, 1.5 * this.#gapMs + 0.02);
  }
}

/**
 * The main thread's side: after handing a call to the worker it may poll for the answer instead of
 * going back to its event loop, when the model runs in tens of microseconds — waking the main
 * thread costs more than the call itself then. Only when the call is the only request in flight
 * (nothing else waits for the event loop), and never beyond a bound that keeps the loop responsive.
 */
export class AnswerSpin {
  /** Models slower than this are never waited for synchronously. */
  static readonly MAX_EXECUTE_MS = 0.1;
  /** Longest the event loop is held. */
  static readonly CAP_MS = 0.15;
  #executeMs = Number.POSITIVE_INFINITY;

  /** The worker's own execution time of the last call through the mailbox. */
  observe(executeMs: number): void {
    this.#executeMs = Number.isFinite(this.#executeMs) ? 0.8 * this.#executeMs + 0.2 * executeMs : executeMs;
  }

  spinMs(inflightNow: number): number {
    if (inflightNow > 1 || !(this.#executeMs <= AnswerSpin.MAX_EXECUTE_MS)) return 0;
    return Math.min(AnswerSpin.CAP_MS, 1.5 * this.#executeMs + 0.03);
  }
}
