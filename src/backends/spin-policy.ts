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
const BUSY_HOST_PERMILLE = 800;
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
