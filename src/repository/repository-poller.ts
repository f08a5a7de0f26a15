/**
 * Poll mode: one scan of the repository (new model directories load, changed ones reload, removed
 * ones unload and leave) and the timer that runs a scan every interval, never two at once, and
 * stops cleanly (a scan in progress finishes before `stop` resolves).
 */
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { ModelEntry } from './model-entry.js';
import { fingerprintModel, fingerprintsDiffer } from './model-fingerprint.js';

export interface ScanTarget {
  root: string;
  logger: Logger;
  models: Map<string, ModelEntry>;
  discover: () => Promise<string[]>;
  load: (name: string) => Promise<void>;
  /** False under a memory budget: new models wait for their first request. */
  loadsNewModels: boolean;
  closed: () => boolean;
}

export async function scanRepository(target: ScanTarget): Promise<void> {
  const { models, logger } = target;
  const names = await target.discover();
  for (const name of names) {
    if (target.closed()) return;
    const entry = models.get(name);
    if (!entry) {
      if (target.loadsNewModels) await target.load(name).catch(() => undefined);
      continue;
    }
    // Unloaded through the API (or evicted): stays so until asked; busy: the next scan looks again.
    if (!entry.wanted || entry.operations > 0) continue;
    const dir = await realpath(join(target.root, name)).catch(() => undefined);
    if (!dir) continue;
    const now = await fingerprintModel(dir, entry.fingerprint).catch(() => undefined);
    if (!now) continue;
    if (fingerprintsDiffer(entry.fingerprint, now)) {
      logger.info({ model: name }, 'model files changed: reloading');
      await target.load(name).catch(() => undefined);
    } else {
      entry.fingerprint = now; // same content: keep the new stats so the files are not hashed again
    }
  }
  for (const [name, entry] of models) {
    if (names.includes(name) || target.closed()) continue;
    logger.info({ model: name }, 'model directory removed: unloading');
    await entry.exclusive(() => entry.unloadAll('removed from the repository', logger.child({ model: name })));
    if (models.get(name) === entry && entry.operations === 0) models.delete(name);
  }
}

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
