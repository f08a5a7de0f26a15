/**
 * Poll mode's timer: runs one repository scan every interval, never two at once, and stops
 * cleanly (a scan in progress finishes before `stop` resolves).
 */
import type { Logger } from '../logging/logger.js';

export class RepositoryPoller {
  readonly #intervalMs: number;
  readonly #scan: () => Promise<void>;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(intervalMs: number, scan: () => Promise<void>, logger: Logger) {
    this.#intervalMs = intervalMs;
    this.#scan = scan;
    this.#logger = logger;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#scan()
        .catch((error: unknown) => this.#logger.error({ err: error }, 'repository poll failed'))
        .finally(() => {
          this.#running = undefined;
          this.#schedule();
        });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }
}
