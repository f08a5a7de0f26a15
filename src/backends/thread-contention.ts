/**
 * Whether light models contend for the shared thread an instance runs on (pooled-instance.ts), the
 * rule that spreads them: the running share of the instance's recent calls that found another model's
 * call in flight on its thread. Above SPREAD_CONTENTION, once a window's worth of calls has been seen
 * there, the instance moves to a new shared thread. Contention belongs to a thread: a new home starts
 * counting afresh (else one spread would set off the next).
 */

/** Share of recent calls that found another slot's call running on the thread before one spreads. */
export const SPREAD_CONTENTION = 0.25;
/** Recent calls weighed (the running share's window), and calls seen on a thread before it is trusted. */
export const CONTENTION_WINDOW = 16;

export class ThreadContention {
  #share = 0;
  #calls = 0;

  observe(contended: boolean): void {
    this.#calls++;
    this.#share += ((contended ? 1 : 0) - this.#share) / CONTENTION_WINDOW;
  }

  /** Running share of recent calls that found another model's call in flight (0–1). */
  get share(): number {
    return this.#share;
  }

  get contended(): boolean {
    return this.#calls >= CONTENTION_WINDOW && this.#share > SPREAD_CONTENTION;
  }

  /** The instance moved to another thread. */
  reset(): void {
    this.#share = 0;
    this.#calls = 0;
  }
}
