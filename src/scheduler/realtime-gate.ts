/**
 * Batch-job batches start only between real-time executions (process-wide: every model's
 * schedulers share the cores).
 *
 * Why: a job runs on a background instance at the lowest CPU priority (background-lane.ts), so the
 * kernel gives real-time threads the cores first — but two sessions running at once still share the
 * cores' caches and memory bandwidth, which no priority gives back. Measured without a server
 * (`tsx bench/interference.ts`: the batch-api bench's MLP, one row at a time at 40 % of its capacity,
 * a job beside it on one SCHED_IDLE thread), a job running throughout raised the real-time run's p99
 * by 22 %, and a job that starts a batch only while no real-time run is in flight by 6 %, while keeping
 * 0.92 of the capacity left over against 0.90. A batch already running is never stopped: a real-time
 * execution that starts meanwhile overlaps it at most for one job batch.
 *
 * A job is never starved: held for MAX_HOLD_MS (a server busy without a pause), one batch starts anyway.
 */

/** Longest a background batch waits for a moment without real-time executions. */
export const MAX_HOLD_MS = 100;

export class RealtimeGate {
  #running = 0;
  readonly #waiting = new Set<() => void>();

  /** A real-time execution starts (any model, any instance of this process). */
  begin(): void {
    this.#running++;
  }

  /**
   * It ended; when none runs any more, the held schedulers are woken — on the next turn of the event
   * loop, so the real-time answers of this turn are written before a job batch is prepared.
   */
  end(): void {
    if (--this.#running > 0 || this.#waiting.size === 0) return;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    setImmediate(() => {
      for (const wake of waiting) wake();
    });
  }

  /** Whether a real-time execution runs now. */
  get busy(): boolean {
    return this.#running > 0;
  }

  /** Calls `wake` once, when no real-time execution runs any more. */
  whenIdle(wake: () => void): void {
    this.#waiting.add(wake);
  }

  /** Forgets a registration (the scheduler closed). */
  forget(wake: () => void): void {
    this.#waiting.delete(wake);
  }
}

export const realtimeGate = new RealtimeGate();

/** One scheduler's view of the gate: whether its background work may start a batch now. */
export class BackgroundHold {
  #since: number | undefined;

  constructor(private readonly wake: () => void, private readonly gate = realtimeGate) {}

  /**
   * undefined: start a background batch now. Otherwise the time (ns) by which it may start at the
   * latest; the scheduler is also woken as soon as the real-time executions have ended.
   */
  check(nowNs: number): number | undefined {
    if (!this.gate.busy) {
      this.#since = undefined;
      return undefined;
    }
    this.#since ??= nowNs;
    const deadline = this.#since + MAX_HOLD_MS * 1e6;
    if (nowNs >= deadline) {
      this.#since = undefined;
      return undefined;
    }
    this.gate.whenIdle(this.wake);
    return deadline;
  }

  close(): void {
    this.gate.forget(this.wake);
  }
}
