/**
 * Admission of inference requests, for the graceful drain: counts the requests admitted and not yet
 * answered, refuses new ones once draining starts, and wakes whoever waits for the last answer.
 *
 * Invariant: `inflight` is the number of `admitted` calls whose work has not settled; `drained()`
 * resolves exactly when it reaches 0 after being asked (at once if it already is 0).
 */
import { VireoError } from '../core/errors.js';
import { processInflight } from '../core/inflight-requests.js';

export class RequestAdmission {
  #draining = false;
  /** Inference requests admitted and not yet answered. */
  #inflight = 0;
  #drained: (() => void) | undefined;

  /** True from startDraining on. */
  get draining(): boolean {
    return this.#draining;
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** From now on new inference requests are refused. */
  startDraining(): void {
    this.#draining = true;
  }

  /** Throws SERVER_SHUTTING_DOWN once draining: the check a new request meets first. */
  checkOpen(): void {
    if (this.#draining) throw new VireoError('VIREO_ERR_SERVER_SHUTTING_DOWN', 'the server is shutting down and takes no new requests');
  }

  /** Runs an admitted request's work, counted (here and process-wide) until it settles. */
  async admitted<T>(work: () => Promise<T>): Promise<T> {
    this.#inflight++;
    processInflight.begin();
    try {
      return await work();
    } finally {
      processInflight.end();
      if (--this.#inflight === 0 && this.#drained) {
        const drained = this.#drained;
        this.#drained = undefined;
        drained();
      }
    }
  }

  /** Resolves once every admitted request has been answered. */
  drained(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#drained;
      this.#drained = () => { previous?.(); resolve(); };
    });
  }
}
