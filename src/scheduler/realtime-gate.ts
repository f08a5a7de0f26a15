/**
 * With `parameters.batch_job_yield` (off by default: it lowers the job's share, README "Batch jobs in
 * the server"), batch-job batches start only between real-time executions (process-wide: every
 * model's schedulers share the cores).
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
 * A job is never starved: held for MAX_HOLD_MS without a pause (real-time work back to back, or one long
 * execution — a slow model, a handler), it starts anyway and is not held again until a pause is seen, so
 * beside continuous real-time work it runs as it did without the gate, on the cores that work leaves.
 * Streams of decoupled models are not counted: they may stay open for seconds without using a core.
 * Nor are job batches held that run shorter than MIN_HELD_BATCH_MS: such a batch (a small model's) takes
 * too little of the caches to matter, and holding each one for a pause throttled a job on `simple` beside
 * the real-time MLP to 0.31 of the capacity left over (`tsx bench/batch-api.ts`, 2026-12-01 04:33).
 */

/** Longest a background batch waits for a moment without real-time executions. */
export const MAX_HOLD_MS = 20;
/** Job batches that run shorter than this on average are never held. */
export const MIN_HELD_BATCH_MS = 0.5;

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
  /** A hold ran out with real-time work still running: no more holds until a pause. */
  #released = false;
  /** Mean run time of the job's recent batches (ms); unknown until the first one ran. */
  #batchMs: number | undefined;

  constructor(private readonly wake: () => void, private readonly gate = realtimeGate) {}

  /**
   * undefined: start a background batch now. Otherwise the time (ns) by which it may start at the
   * latest; the scheduler is also woken as soon as the real-time executions have ended.
   */
  check(nowNs: number): number | undefined {
    if (this.#batchMs !== undefined && this.#batchMs < MIN_HELD_BATCH_MS) return undefined;
    if (!this.gate.busy) {
      this.#since = undefined;
      this.#released = false;
      return undefined;
    }
    if (this.#released) return undefined;
    this.#since ??= nowNs;
    const deadline = this.#since + MAX_HOLD_MS * 1e6;
    if (nowNs >= deadline) {
      this.#since = undefined;
      this.#released = true;
      return undefined;
    }
    this.gate.whenIdle(this.wake);
    return deadline;
  }

  /** A job batch ran for `ms`. */
  observe(ms: number): void {
    this.#batchMs = this.#batchMs === undefined ? ms : 0.8 * this.#batchMs + 0.2 * ms;
  }

  close(): void {
    this.gate.forget(this.wake);
  }
}
