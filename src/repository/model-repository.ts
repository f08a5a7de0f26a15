/**
 * The served models: discovers model directories, loads the versions their policy selects,
 * tracks each version's state (LOADING → READY | UNAVAILABLE, READY → UNLOADING → gone) and
 * resolves a (model, version) to a ready version. A model that fails to load is UNAVAILABLE with
 * its reason and never stops the others.
 */
import { readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { VireoError } from '../core/errors.js';
import type { ModelIndexEntry, ModelState } from '../core/inference.js';
import type { Logger } from '../logging/logger.js';
import type { SchedulerRecorder } from '../scheduler/recorder.js';
import { StatisticsRecorder, fanOut } from '../scheduler/statistics.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { ModelInstance } from '../backends/backend.js';
import { readModelConfig } from './config-file.js';
import { loadVersion } from './model-loader.js';
import type { ModelConfig } from './model-config.js';
import { listVersions, selectVersions } from './version-policy.js';

export interface RepositoryOptions {
  root: string;
  logger: Logger;
  autoComplete?: boolean;
  defaultMaxBatchSize?: number;
  /** Extra recorder per version (metrics, tracing); statistics are always kept. */
  recorderFor?: (model: string, version: string) => VersionRecorder | undefined;
}

/** A scheduler recorder that may also hear about its version's load and unload. */
export interface VersionRecorder extends SchedulerRecorder {
  /** The load finished, READY or not, after `seconds`. */
  loaded?(seconds: number): void;
  /** The version was unloaded and will not report again. */
  unloaded?(): void;
}

export interface ModelVersion {
  readonly model: string;
  readonly version: string;
  state: ModelState;
  reason?: string;
  config?: ModelConfig;
  scheduler?: Scheduler;
  instances?: ModelInstance[];
  statistics: StatisticsRecorder;
  /** Statistics plus the extra recorder: what the scheduler reports to, and the facade for early failures. */
  recorder: SchedulerRecorder;
  extra?: VersionRecorder;
}

interface ModelEntry {
  name: string;
  versions: Map<string, ModelVersion>;
  /** Set when the model as a whole could not load (bad config, no versions). */
  reason?: string;
  state: ModelState;
}

const MODEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export function isValidModelName(name: string): boolean {
  return MODEL_NAME.test(name) && name.length <= 255;
}

export class ModelRepository {
  readonly #options: Required<Omit<RepositoryOptions, 'recorderFor'>> & Pick<RepositoryOptions, 'recorderFor'>;
  readonly #models = new Map<string, ModelEntry>();
  #initialLoadDone = false;

  constructor(options: RepositoryOptions) {
    this.#options = { autoComplete: true, defaultMaxBatchSize: 4, ...options };
  }

  get logger(): Logger {
    return this.#options.logger;
  }

  /** Model directory names in the repository, sorted. */
  async discover(): Promise<string[]> {
    const entries = await readdir(this.#options.root, { withFileTypes: true });
    return entries
      .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && isValidModelName(e.name))
      .map((e) => e.name)
      .sort();
  }

  async loadAll(): Promise<void> {
    const names = await this.discover();
    // Two at a time: loading is CPU-heavy and the host may have few cores.
    const queue = [...names];
    const loadNext = async (): Promise<void> => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) await this.load(name);
    };
    await Promise.all([loadNext(), loadNext()]);
    this.#initialLoadDone = true;
  }

  /** Loads (or reloads) one model; resolves when every selected version is READY or UNAVAILABLE. */
  async load(name: string): Promise<void> {
    const log = this.#options.logger;
    const entry: ModelEntry = this.#models.get(name) ?? { name, versions: new Map(), state: 'LOADING' };
    this.#models.set(name, entry);
    entry.state = 'LOADING';
    entry.reason = undefined;
    const modelDir = join(this.#options.root, name);
    const started = performance.now();
    try {
      const dir = await realpath(modelDir);
      const { config: parsed } = await readModelConfig(dir);
      const available = await listVersions(dir);
      const selected = selectVersions(available, parsed.version_policy ?? { latest: { num_versions: 1 } });
      if (selected.length === 0) {
        throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', available.length === 0
          ? 'no version directories (expected <model>/<positive integer>/)'
          : `version_policy selects none of the available versions ${available.join(', ')}`);
      }
      await Promise.all(selected.map(async (v) => {
        const version = String(v);
        const statistics = new StatisticsRecorder(name, version);
        const extra = this.#options.recorderFor?.(name, version);
        const recorder = extra ? fanOut([statistics, extra]) : statistics;
        const mv: ModelVersion = { model: name, version, state: 'LOADING', statistics, recorder, extra };
        entry.versions.set(version, mv);
        const t0 = performance.now();
        try {
          const loaded = await loadVersion({
            modelName: name, modelDir: dir, version: v, parsed,
            autoComplete: this.#options.autoComplete,
            defaultMaxBatchSize: this.#options.defaultMaxBatchSize,
            logger: log,
            recorder,
          });
          Object.assign(mv, loaded, { state: 'READY' as const });
          extra?.loaded?.((performance.now() - t0) / 1000);
          log.info({
            model: name, version, loadMs: Math.round(performance.now() - t0),
            inputs: loaded.config.input.map((i) => `${i.name}:${i.data_type}[${i.dims.join(',')}]`),
            outputs: loaded.config.output.map((o) => `${o.name}:${o.data_type}[${o.dims.join(',')}]`),
            maxBatchSize: loaded.config.max_batch_size, instances: loaded.instances.length,
          }, 'model loaded');
        } catch (error) {
          mv.state = 'UNAVAILABLE';
          mv.reason = VireoError.from(error).message;
          extra?.loaded?.((performance.now() - t0) / 1000);
          log.error({ model: name, version, reason: mv.reason, loadMs: Math.round(performance.now() - t0) }, 'model failed to load');
        }
      }));
      entry.state = [...entry.versions.values()].some((v) => v.state === 'READY') ? 'READY' : 'UNAVAILABLE';
      if (entry.state === 'UNAVAILABLE') entry.reason = [...entry.versions.values()].map((v) => v.reason).find(Boolean);
    } catch (error) {
      entry.state = 'UNAVAILABLE';
      entry.reason = VireoError.from(error).message;
      log.error({ model: name, reason: entry.reason, ms: Math.round(performance.now() - started) }, 'model failed to load');
    }
  }

  /** Unloads every version of a model: drains its queues, then ends its workers. */
  async unload(name: string): Promise<void> {
    const entry = this.#models.get(name);
    if (!entry) return;
    entry.state = 'UNLOADING';
    await Promise.all([...entry.versions.values()].map((v) => this.#unloadVersion(v)));
    this.#models.delete(name);
  }

  async #unloadVersion(mv: ModelVersion): Promise<void> {
    const t0 = performance.now();
    mv.state = 'UNLOADING';
    await mv.scheduler?.close();
    await Promise.all((mv.instances ?? []).map((i) => i.close()));
    mv.extra?.unloaded?.();
    this.#options.logger.info({ model: mv.model, version: mv.version, unloadMs: Math.round(performance.now() - t0) }, 'model unloaded');
  }

  async close(): Promise<void> {
    await Promise.all([...this.#models.keys()].map((name) => this.unload(name)));
  }

  /** True once the initial load finished and every model is READY (Triton's strict readiness). */
  isReady(strict = true): boolean {
    if (!this.#initialLoadDone) return false;
    if (!strict) return true;
    return [...this.#models.values()].every((m) => m.state === 'READY');
  }

  has(name: string): boolean {
    return this.#models.has(name);
  }

  /** Every version known for a model, ascending; throws NOT_FOUND for an unknown model. */
  versionsOf(name: string): ModelVersion[] {
    const entry = this.#models.get(name);
    if (!entry) throw new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `unknown model "${name}"`);
    return [...entry.versions.values()].sort((a, b) => Number(a.version) - Number(b.version));
  }

  /** The version a request goes to: the named one, or the highest READY one. Not necessarily ready. */
  find(name: string, version?: string): ModelVersion {
    const entry = this.#models.get(name);
    if (!entry) throw new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `unknown model "${name}"`);
    if (version !== undefined && version !== '') {
      const mv = entry.versions.get(version);
      if (!mv) throw new VireoError('VIREO_ERR_VERSION_NOT_FOUND', `model "${name}" has no version "${version}" (served: ${[...entry.versions.keys()].join(', ') || 'none'})`);
      return mv;
    }
    const versions = this.versionsOf(name);
    const ready = versions.filter((v) => v.state === 'READY').at(-1);
    if (ready) return ready;
    const reason = entry.reason ?? versions.map((v) => v.reason).find(Boolean);
    throw new VireoError('VIREO_ERR_MODEL_NOT_READY', `model "${name}" is not ready${reason ? `: ${reason}` : ''}`);
  }

  /** Like find, but the version must be READY. */
  resolve(name: string, version?: string): ModelVersion & { config: ModelConfig; scheduler: Scheduler } {
    const mv = this.find(name, version);
    if (mv.state !== 'READY' || !mv.config || !mv.scheduler) {
      throw new VireoError('VIREO_ERR_MODEL_NOT_READY', `model "${name}" version ${mv.version} is ${mv.state}${mv.reason ? `: ${mv.reason}` : ''}`);
    }
    return mv as ModelVersion & { config: ModelConfig; scheduler: Scheduler };
  }

  index(): ModelIndexEntry[] {
    const out: ModelIndexEntry[] = [];
    for (const entry of [...this.#models.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.versions.size === 0) out.push({ name: entry.name, state: entry.state, reason: entry.reason ?? '' });
      for (const v of this.versionsOf(entry.name)) out.push({ name: entry.name, version: v.version, state: v.state, reason: v.reason ?? '' });
    }
    return out;
  }
}
