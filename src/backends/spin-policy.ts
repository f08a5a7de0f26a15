/**
 * How long an idle instance worker spins before parking. Waking a parked thread costs ~50–80 µs
 * on a virtualised machine; under steady traffic the next batch usually arrives sooner than that,
 * so spinning briefly is cheaper than sleeping. The spin follows the recent gaps between an answer
 * and the next request: it only happens when those gaps are short, and never longer than the cap,
 * so a quiet server does not burn a core waiting; and only while the main thread has CPU to spare,
 * since on a small machine a spinning worker takes the core a saturated HTTP thread needs (the same
 * spin-then-block idea as onnxruntime's own thread pool).
 */
import { performance } from 'node:perf_hooks';

const eventLoopUtilization = performance.eventLoopUtilization.bind(performance);

/** Above this main-thread utilisation the worker parks at once. */
const BUSY_HOST_PERMILLE = 600;
export class SpinPolicy {
  readonly #capMs: number;
  #gapMs: number;
  #answeredAt: number | undefined;

  /** `capUs` 0 disables spinning. */
  constructor(capUs: number) {
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

  /** Milliseconds to spin before parking now, given the main thread's utilisation. */
  spinMs(hostLoadPermille: number): number {
    if (this.#capMs === 0 || this.#answeredAt === undefined || this.#gapMs > this.#capMs) return 0;
    if (hostLoadPermille > BUSY_HOST_PERMILLE) return 0;
    return Math.min(this.#capMs, 1.5 * this.#gapMs + 0.02);
  }
}

/**
 * The main thread's side: after handing a call to the worker it may spin for the answer instead
 * of going back to its event loop, when the model runs in tens of microseconds — waking the main
 * thread costs more than the call itself then. Only while the main thread is lightly loaded (its
 * event loop has little else to do), and never beyond a bound that keeps the loop responsive.
 */
export class AnswerSpin {
  /** Models slower than this are never waited for synchronously. */
  static readonly MAX_EXECUTE_MS = 0.1;
  /** Longest the event loop is held. */
  static readonly CAP_MS = 0.15;
  static readonly QUIET_HOST_PERMILLE = 600;
  #executeMs = Number.POSITIVE_INFINITY;

  /** The worker's own execution time of the last call through the mailbox. */
  observe(executeMs: number): void {
    this.#executeMs = Number.isFinite(this.#executeMs) ? 0.8 * this.#executeMs + 0.2 * executeMs : executeMs;
  }

  spinMs(hostLoadPermille: number): number {
    if (hostLoadPermille > AnswerSpin.QUIET_HOST_PERMILLE || !(this.#executeMs <= AnswerSpin.MAX_EXECUTE_MS)) return 0;
    return Math.min(AnswerSpin.CAP_MS, 1.5 * this.#executeMs + 0.03);
  }
}

/** The main thread's event-loop utilisation, resampled at most every 50 ms (sampling costs ~1 µs). */
export class HostLoad {
  static #last = eventLoopUtilization();
  static #at = 0;
  static #permille = 0;

  static permille(now = performance.now()): number {
    if (now - HostLoad.#at >= 50) {
      const current = eventLoopUtilization();
      HostLoad.#permille = Math.round(eventLoopUtilization(current, HostLoad.#last).utilization * 1000);
      HostLoad.#last = current;
      HostLoad.#at = now;
    }
    return HostLoad.#permille;
  }
}
