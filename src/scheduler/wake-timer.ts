/**
 * One pending wake-up of the scheduler at an absolute time (ns, `nowNs` clock). Timers have
 * millisecond granularity, so a wait shorter than 1 ms (max_queue_delay is in µs) fires on the next
 * event-loop turn instead, and the scheduler re-checks; waits are never rounded up to 1 ms.
 */
export class WakeTimer {
  #timeout: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #at = Infinity;

  constructor(readonly fire: () => void) {}

  /** Wakes at `wakeAt` (Infinity: never); re-arming for the same time keeps the current wake-up. */
  arm(wakeAt: number, now: number): void {
    if (wakeAt === this.#at) return;
    this.disarm();
    this.#at = wakeAt;
    if (wakeAt === Infinity) return;
    const waitNs = wakeAt - now;
    if (waitNs < 1e6) this.#immediate = setImmediate(this.#fired);
    else this.#timeout = setTimeout(this.#fired, Math.ceil(waitNs / 1e6));
  }

  disarm(): void {
    if (this.#timeout) clearTimeout(this.#timeout);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timeout = undefined;
    this.#immediate = undefined;
    this.#at = Infinity;
  }

  readonly #fired = (): void => {
    this.#timeout = undefined;
    this.#immediate = undefined;
    this.#at = Infinity;
    this.fire();
  };
}
