/**
 * The largest value seen over the last one to two windows of time, for counts that rise and fall
 * (requests in flight, requests outstanding): a burst is remembered for a window, then forgotten.
 * `note` reads no clock, so it is cheap enough for every request; the window moves on in `roll`.
 */
export class RecentPeak {
  #peak = 0;
  #previous = 0;
  #windowStart = 0;

  constructor(private readonly windowLength: number) {}

  /** Counts `value` into the current window. */
  note(value: number): void {
    if (value > this.#peak) this.#peak = value;
  }

  /** Moves the window on to `now`; `current`, what holds now, starts the new window. */
  roll(now: number, current: number): void {
    const elapsed = now - this.#windowStart;
    if (elapsed < this.windowLength) return;
    this.#previous = elapsed >= 2 * this.windowLength ? current : this.#peak;
    this.#peak = current;
    this.#windowStart = now;
  }

  get value(): number {
    return Math.max(this.#peak, this.#previous);
  }
}
