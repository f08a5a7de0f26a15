/**
 * The memory budget applied to loads: before a version loads, least recently used idle models are
 * unloaded until its estimate fits (its last measured size, else its model file per instance);
 * the load is measured as the growth of the process RSS, at least that file estimate (memory the
 * allocator reuses can hide a load's real cost); a version over the whole budget is refused.
 * Loads run one at a time under the budget so each measurement sees only its own load.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { budgetExhausted, planEvictions, tooLarge, type ResidentModel } from './memory-budget.js';
import type { ParsedModelConfig } from './model-config.js';
import { relativeSegments } from './safe-path.js';
import { retireVersion, type ModelEntry, type ModelVersion } from './model-entry.js';

async function fileEstimate(dir: string, version: string, parsed: ParsedModelConfig): Promise<number> {
  const instances = (parsed.instance_group ?? [{ count: 1 }]).reduce((sum, g) => sum + (g.count ?? 1), 0);
  let filename = 'model.onnx';
  try {
    if (parsed.default_model_filename) filename = relativeSegments(parsed.default_model_filename, 'default_model_filename').join('/');
  } catch {
    return 0; // the load itself refuses the name, with the reason
  }
  const info = await stat(join(dir, version, filename)).catch(() => undefined);
  return (info?.size ?? 0) * instances;
}

export interface ModelBudgetOptions {
  limit: number;
  /** The repository's models. */
  entries: () => Iterable<ModelEntry>;
  unload: (name: string, reason: string) => Promise<void>;
  logger: Logger;
  residentBytes: () => number;
}

export class ModelBudget {
  readonly limit: number;
  readonly #entries: () => Iterable<ModelEntry>;
  readonly #unload: (name: string, reason: string) => Promise<void>;
  readonly #logger: Logger;
  readonly #residentBytes: () => number;
  #lock: Promise<void> = Promise.resolve();

  constructor(options: ModelBudgetOptions) {
    this.limit = options.limit;
    this.#entries = options.entries;
    this.#unload = options.unload;
    this.#logger = options.logger;
    this.#residentBytes = options.residentBytes;
  }

  /** Runs `load` for `mv` within the budget; failures are recorded on `mv` like any load failure. */
  loading(entry: ModelEntry, mv: ModelVersion, dir: string, parsed: ParsedModelConfig, load: () => Promise<void>): Promise<void> {
    const run = this.#lock.then(() => this.#load(entry, mv, dir, parsed, load));
    this.#lock = run.catch(() => undefined);
    return run;
  }

  async #load(entry: ModelEntry, mv: ModelVersion, dir: string, parsed: ParsedModelConfig, load: () => Promise<void>): Promise<void> {
    const floor = await fileEstimate(dir, mv.version, parsed);
    const estimate = Math.max(entry.measured.get(mv.version) ?? 0, floor);
    const refuse = (error: ReturnType<typeof tooLarge>) => {
      mv.error = error;
      mv.state = 'UNAVAILABLE';
      mv.reason = error.message;
    };
    if (estimate > this.limit) return refuse(tooLarge(entry.name, estimate, this.limit, entry.measured.has(mv.version)));
    if (!(await this.#makeRoom(entry, estimate))) return refuse(budgetExhausted(entry.name, estimate, this.limit));
    const before = this.#residentBytes();
    await load();
    if (mv.state !== 'READY') return;
    const measured = Math.max(this.#residentBytes() - before, floor);
    mv.memoryBytes = measured;
    entry.measured.set(mv.version, measured);
    this.#logger.info({ model: entry.name, version: mv.version, memoryBytes: measured, budget: this.limit }, 'model memory measured');
    if (measured > this.limit) {
      await retireVersion(mv, this.#logger.child({ model: entry.name }));
      return refuse(tooLarge(entry.name, measured, this.limit, true));
    }
    if (!(await this.#makeRoom(entry, 0))) {
      this.#logger.warn({ model: entry.name, budget: this.limit }, 'over the memory budget: every other loaded model is busy');
    }
  }

  /**
   * Whether `bytes` more fit beside what is loaded now, unloading nothing: asked before the batch
   * jobs' background instance (a second session of a loaded model) opens.
   */
  hasRoomFor(bytes: number): boolean {
    let total = 0;
    for (const e of this.#entries()) total += e.memoryBytes();
    return total + bytes <= this.limit;
  }

  /**
   * Unloads least recently used idle models until `incoming` more bytes fit; false if they cannot.
   * The plan is recomputed before each unload, so a model that became busy meanwhile (a request,
   * a poll's reload) is never waited for while this load holds the budget.
   */
  async #makeRoom(loading: ModelEntry, incoming: number): Promise<boolean> {
    for (;;) {
      const resident: ResidentModel[] = [];
      for (const e of this.#entries()) {
        const bytes = e.memoryBytes();
        if (bytes === 0) continue;
        resident.push({ name: e.name, bytes, lastUse: e.lastUse, idle: e !== loading && e.operations === 0 && e.pending() === 0 });
      }
      const plan = planEvictions(resident, this.limit, incoming);
      const victim = plan.evict[0];
      // A load that cannot fit even then evicts nothing; after a load (incoming 0) any help counts.
      if (victim === undefined || (!plan.fits && incoming > 0)) return plan.fits;
      this.#logger.info({ model: victim, for: loading.name }, 'unloading the least recently used idle model to fit the memory budget');
      await this.#unload(victim, `unloaded to make room for "${loading.name}" (memory budget)`);
    }
  }
}
