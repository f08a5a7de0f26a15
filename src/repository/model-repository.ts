/**
 * The served models: discovers model directories, loads the versions their policy selects,
 * tracks each version's state (LOADING → READY | UNAVAILABLE, READY → UNLOADING → UNAVAILABLE) and
 * resolves a (model, version) to a ready version. A model that fails to load is UNAVAILABLE with
 * its reason and never stops the others.
 *
 * Invariants: operations on one model (load, unload) run one at a time, in call order. A reload
 * builds the new versions beside the serving ones and swaps them into `versions` in one
 * synchronous step, so a request resolves either the old or the new version, never neither; the
 * replaced versions then drain (their scheduler finishes what it admitted) and end their workers.
 * A reload that fails leaves the serving versions in place.
 */
import { DEFAULT_MODEL_DEFAULTS, type ModelDefaults } from './model-defaults.js';
import type { ResponseCache } from '../scheduler/response-cache.js';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { USABLE_CORES } from '../core/cpu-budget.js';
import { VireoError } from '../core/errors.js';
import type { ModelIndexEntry } from '../core/inference.js';
import type { Logger } from '../logging/logger.js';
import { residentBytes } from './memory-budget.js';
import { ModelBudget } from './model-budget.js';
import type { ModelConfig, ParsedModelConfig } from './model-config.js';
import { ModelEntry, type ModelRunner, type ModelVersion, type VersionRecorder } from './model-entry.js';
import { partitionEnsembles, stepsToLoadFirst } from './ensemble-loader.js';
import type { ModelCall } from '../backends/backend.js';
import type { Tensor } from '../core/tensor.js';
import { buildIndex, type IndexOptions } from './repository-index.js';
import { reloadModel, type ReloadContext } from './model-reload.js';
import { recoverInterruptedUpload, writeModelFiles, type UploadedFile } from './model-upload.js';
import { RepositoryPoller, scanRepository } from './repository-poller.js';
import { clip } from '../core/bounded-text.js';

export type { ModelRunner, ModelVersion, VersionRecorder } from './model-entry.js';

/** Triton's --model-control-mode. */
export type ModelControlMode = 'none' | 'poll' | 'explicit';

export interface RepositoryOptions {
  root: string;
  logger: Logger;
  autoComplete?: boolean;
  defaultMaxBatchSize?: number;
  /** Extra recorder per version (metrics, tracing); statistics are always kept. */
  recorderFor?: (model: string, version: string) => VersionRecorder | undefined;
  /** How handler code calls other models (BLS); the composition root points it at the facade. */
  callModel?: (call: ModelCall) => Promise<Tensor[]>;
  /** The server's response cache (--cache-config); models opt in with response_cache.enable. */
  responseCache?: ResponseCache;
  controlMode?: ModelControlMode;
  /** Seconds between repository scans in poll mode (default 15). */
  pollSecs?: number;
  /** Models loaded at start in explicit mode; `*` = all. */
  startupModels?: readonly string[];
  /** Bytes; set, models load on first use and the least recently used idle ones make room. */
  memoryBudget?: number;
  /** How memory is measured (default: the process RSS); replaceable so tests can fix the sizes. */
  residentBytes?: () => number;
  /** Bounds for what a model's configuration leaves unset (model-defaults.ts). */
  modelDefaults?: Partial<ModelDefaults>;
}

export interface LoadOptions {
  /**
   * A configuration used instead of the model's file, kept for later reloads (polls, on-demand).
   * Present but undefined: back to the file. Absent: keep whatever the model had.
   */
  config?: ParsedModelConfig;
  files?: readonly UploadedFile[];
}

const MODEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * A version is a non-negative integer; anything else is refused in Triton's words, before the model
 * is looked up as Triton does (grpc_explicit_*_content_client.py check the text).
 */
export function checkVersionString(version: string): void {
  if (/^\d+$/.test(version)) return;
  if (/^-\d+$/.test(version)) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `invalid model version specified '${clip(version)}' , version should be an integral value > 0`);
  }
  throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `failed to get model version from specified version string '${clip(version)}' (details: not an integer), version should be an integral value > 0`);
}

/** Triton's words (model_repository_manager.cc), which clients and Triton's tests match on. */
const unknownModel = (name: string) => new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `Request for unknown model: '${clip(name)}' is not found`);

export function isValidModelName(name: string): boolean {
  return MODEL_NAME.test(name) && name.length <= 255;
}

export class ModelRepository {
  readonly #options: RepositoryOptions & { autoComplete: boolean; defaultMaxBatchSize: number; controlMode: ModelControlMode };
  readonly #models = new Map<string, ModelEntry>();
  readonly #budget: ModelBudget | undefined;
  #discovered: string[] = [];
  readonly #reloadContext: ReloadContext;
  #poller: RepositoryPoller | undefined;
  #initialLoadDone = false;
  #closed = false;

  constructor(options: RepositoryOptions) {
    this.#options = {
      ...options,
      autoComplete: options.autoComplete ?? true,
      defaultMaxBatchSize: options.defaultMaxBatchSize ?? 4,
      controlMode: options.controlMode ?? 'none',
    };
    if (options.memoryBudget !== undefined) {
      this.#budget = new ModelBudget({
        limit: options.memoryBudget,
        entries: () => this.#models.values(),
        unload: (name, reason) => this.unload(name, reason),
        logger: options.logger,
        residentBytes: options.residentBytes ?? residentBytes,
      });
    }
    this.#reloadContext = {
      root: options.root,
      logger: options.logger,
      autoComplete: this.#options.autoComplete,
      defaultMaxBatchSize: this.#options.defaultMaxBatchSize,
      tracksChanges: this.#options.controlMode !== 'none',
      recorderFor: options.recorderFor,
      budget: this.#budget,
      closed: () => this.#closed,
      forget: (entry) => { if (this.#models.get(entry.name) === entry) this.#models.delete(entry.name); },
      callModel: options.callModel,
      responseCache: options.responseCache,
      lookup: (model, stepVersion) => (this.#models.has(model) ? this.resolve(model, stepVersion).config : undefined),
      defaults: { ...DEFAULT_MODEL_DEFAULTS, ...options.modelDefaults },
    };
  }

  get logger(): Logger {
    return this.#options.logger;
  }

  get controlMode(): ModelControlMode {
    return this.#options.controlMode;
  }

  /** True when a request for a model that is not loaded loads it (memory budget mode). */
  get loadsOnDemand(): boolean {
    return this.#budget !== undefined;
  }

  /** Model directory names in the repository, sorted. */
  async discover(): Promise<string[]> {
    const entries = await readdir(this.#options.root, { withFileTypes: true });
    this.#discovered = entries
      .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && isValidModelName(e.name))
      .map((e) => e.name)
      .sort();
    return this.#discovered;
  }

  /** The start-up load for the control mode, then polling in poll mode. */
  async loadAll(): Promise<void> {
    const { controlMode, startupModels = [] } = this.#options;
    const all = await this.discover();
    let names: string[];
    if (controlMode === 'explicit') names = startupModels.includes('*') ? all : [...new Set(startupModels)];
    else names = this.#budget ? [] : all; // with a budget, models load on first use
    const { models, ensembles } = await partitionEnsembles(this.#options.root, names);
    // Two per core: sessions are created in the execution pool's threads (as many as cores), so
    // the main thread's share of a load (config, fingerprint, codecs) overlaps with theirs.
    const queue = [...models];
    const loadNext = async (): Promise<void> => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) await this.load(name).catch(() => undefined);
    };
    await Promise.all(Array.from({ length: Math.max(2, 2 * USABLE_CORES) }, () => loadNext()));
    // Ensembles are checked against the models they use, so they load last.
    for (const name of ensembles) await this.load(name).catch(() => undefined);
    this.#initialLoadDone = true;
    if (controlMode === 'poll' && !this.#closed) {
      this.#poller = new RepositoryPoller((this.#options.pollSecs ?? 15) * 1000, () => this.poll(), this.logger);
    }
  }

  /**
   * Loads a model, or reloads what changed in it: every version when its configuration changed
   * (or one is given), else the new, failed or changed versions; versions no longer selected
   * unload. Rejects with the reason when a version fails (the serving versions then stay).
   */
  load(name: string, options: LoadOptions = {}): Promise<void> {
    if (!isValidModelName(name)) return Promise.reject(new VireoError('VIREO_ERR_PATH_INVALID', `invalid model name "${name}"`));
    return this.#load(name, options, this.controlMode === 'explicit' && !this.#budget);
  }

  /**
   * `withSteps`: an ensemble's steps load first, under its lock (so loads of one model keep their order),
   * after an upload wrote its files (so the uploaded configuration's steps count): Triton's explicit mode.
   */
  #load(name: string, options: LoadOptions, withSteps: boolean): Promise<void> {
    const entry = this.#models.get(name) ?? new ModelEntry(name);
    this.#models.set(name, entry);
    return entry.exclusive(async () => {
      const log = this.logger.child({ model: name });
      // What a killed process left of an upload is settled before anything reads the folder, in every
      // control mode: the process that uploaded may have run in another (explicit, restarted with none),
      // and an upload cut short (files half replaced, or a model whose load killed it) was never confirmed.
      await recoverInterruptedUpload(this.#options.root, name, log);
      const upload = options.files?.length ? await writeModelFiles(this.#options.root, name, options.files, log) : undefined;
      const previous = entry.override;
      if ('config' in options) entry.override = options.config;
      try {
        if (withSteps) await this.#loadSteps(name, entry.override);
        await reloadModel(entry, options.config !== undefined || entry.override !== previous, this.#reloadContext);
      } catch (error) {
        // An ensemble whose steps failed never reached its own load: it is listed as failed, with why.
        if (entry.state === 'LOADING' && !entry.servingVersion()) entry.fail(VireoError.from(error).message);
        entry.override = previous; // a failed load leaves the serving configuration in charge
        // … and the files on disk as they were; the answer is the load's error, whatever the undo meets.
        throw upload ? await upload.undo(error) : error;
      }
      await upload?.keep();
    });
  }

  /**
   * Loads the models an ensemble's steps use that serve nothing yet, before the ensemble (stepsToLoadFirst).
   * Triton also re-reads the steps already loaded and reloads what changed; here those are left as they
   * serve (reload them by name): loading them again under the ensemble's lock could wait on a reload of
   * theirs that is itself waiting for this ensemble (two reloads closing a loop, ensemble-reload-cycle.test.ts).
   */
  async #loadSteps(name: string, override: ParsedModelConfig | undefined): Promise<void> {
    const isModelFolder = (step: string) => (isValidModelName(step) ? stat(join(this.#options.root, step)).then((s) => s.isDirectory(), () => false) : Promise.resolve(false));
    for (const step of await stepsToLoadFirst(this.#options.root, name, override, isModelFolder)) {
      if (this.#models.get(step)?.servingVersion()) continue;
      try {
        await this.#load(step, {}, false);
      } catch (error) {
        // The step's own error code (a bad configuration 400, a model that cannot open 503), as its own load answers.
        const cause = VireoError.from(error);
        throw new VireoError(cause.code, `ensemble "${clip(name)}" uses model "${clip(step)}", which failed to load: ${cause.message}`, { cause });
      }
    }
  }

  /** Unloads every version of a model: drains its queues, then ends its workers. */
  unload(name: string, reason = 'unloaded'): Promise<void> {
    const entry = this.#models.get(name);
    if (!entry) {
      if (this.#discovered.includes(name)) return Promise.resolve();
      return Promise.reject(unknownModel(name));
    }
    return entry.exclusive(() => entry.unloadAll(reason, this.logger.child({ model: name })));
  }

  /**
   * Loads a model that is not loaded (memory budget mode); concurrent callers share one load. A
   * model whose last load failed is not retried per request: its load error is thrown again.
   */
  async ensureLoaded(name: string): Promise<void> {
    let entry = this.#models.get(name);
    if (entry?.servingVersion() && entry.wanted) return;
    // Budget exhaustion passes once a busy model goes idle: that failure is retried, others are not.
    const transient = entry?.sortedVersions().some((v) => v.error?.code === 'VIREO_ERR_MEMORY_BUDGET_EXHAUSTED');
    const failed = entry?.wanted && entry.state === 'UNAVAILABLE' && entry.operations === 0 && !transient;
    if (!failed) {
      if (!entry && !(await this.discover()).includes(name)) return; // unknown: resolve() says so
      entry = this.#models.get(name); // a concurrent first request may have started the load meanwhile
      await (entry?.operations ? entry.idle() : this.load(name)).catch(() => undefined);
      entry = this.#models.get(name);
      if (entry && !entry.servingVersion() && !entry.wanted && entry.operations === 0) await this.load(name).catch(() => undefined);
    }
    if (entry && !entry.servingVersion()) {
      const error = entry.sortedVersions().map((v) => v.error).find(Boolean);
      if (error) throw error;
    }
  }

  /** Served ensembles that route to `name`, directly or through other ensembles (unload_dependents). */
  dependentsOf(name: string): string[] {
    const found = new Set<string>();
    const visit = (target: string) => {
      for (const entry of this.#models.values()) {
        if (!entry.wanted || found.has(entry.name)) continue;
        const uses = [...entry.versions.values()].some((v) => v.config?.ensemble_scheduling?.step.some((s) => s.model_name === target));
        if (uses) {
          found.add(entry.name);
          visit(entry.name);
        }
      }
    };
    visit(name);
    return [...found];
  }

  /** Marks a model as just used (least-recently-used order for the memory budget). */
  touch(name: string): void {
    this.#models.get(name)?.touch();
  }

  /** One poll: new model directories load, removed ones unload, changed ones reload. */
  poll(): Promise<void> {
    return scanRepository({
      root: this.#options.root,
      logger: this.logger,
      models: this.#models,
      discover: () => this.discover(),
      load: (name) => this.load(name),
      loadsNewModels: !this.#budget,
      closed: () => this.#closed,
    });
  }

  /**
   * Graceful shutdown, first half: every scheduler stops waiting for fuller batches and finishes
   * what it admitted (the facade admits nothing new while draining). Workers stay until close().
   */
  /** Every scheduler runs what it holds without its batching delay, still taking requests (Scheduler.flush). */
  flush(): void {
    for (const entry of this.#models.values()) for (const mv of entry.versions.values()) mv.scheduler?.flush?.();
  }

  async drain(): Promise<void> {
    const schedulers = [...this.#models.values()].flatMap((entry) => [...entry.versions.values()]).map((mv) => mv.scheduler);
    await Promise.all(schedulers.map((scheduler) => scheduler?.close()));
  }

  /**
   * Forced shutdown: fails every queued request (they are answered with 503), waits only for
   * batches already executing, then closes. A native call cannot be cut short: ending the process
   * while onnxruntime runs one aborts it, so those few finish first.
   */
  async abort(): Promise<void> {
    const error = new VireoError('VIREO_ERR_SERVER_SHUTTING_DOWN', 'the server is shutting down (forced) and dropped this queued request');
    for (const entry of this.#models.values()) for (const mv of entry.versions.values()) mv.scheduler?.destroy?.(error);
    await this.close();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#poller?.stop();
    await Promise.all([...this.#models.values()].map((entry) => entry.exclusive(() => entry.unloadAll('server closed', this.logger.child({ model: entry.name })))));
  }

  /** True once the initial load finished and every model meant to be served is READY (strict). */
  isReady(strict = true): boolean {
    if (!this.#initialLoadDone) return false;
    if (!strict) return true;
    return [...this.#models.values()].every((m) => !m.wanted || m.state === 'READY');
  }

  has(name: string): boolean {
    return this.#models.has(name);
  }

  /** Every version known for a model, ascending; throws NOT_FOUND for an unknown model. */
  versionsOf(name: string): ModelVersion[] {
    const entry = this.#models.get(name);
    if (!entry) throw unknownModel(name);
    return entry.sortedVersions();
  }

  /** The version a request goes to: the named one, or the highest READY one. Not necessarily ready. */
  find(name: string, version?: string): ModelVersion {
    if (version !== undefined && version !== '') checkVersionString(version);
    const entry = this.#models.get(name);
    if (!entry) throw unknownModel(name);
    if (version !== undefined && version !== '') {
      const mv = entry.versions.get(version);
      if (!mv) throw new VireoError('VIREO_ERR_VERSION_NOT_FOUND', `Request for unknown model: '${clip(name)}' version ${clip(version)} is not found`);
      return mv;
    }
    const ready = entry.servingVersion();
    if (ready) return ready;
    const reason = entry.reason ?? entry.sortedVersions().map((v) => v.reason).find(Boolean);
    throw new VireoError('VIREO_ERR_MODEL_NOT_READY', `model "${name}" is not ready${reason ? `: ${reason}` : ''}`);
  }

  /** Like find, but the version must be READY. */
  resolve(name: string, version?: string): ModelVersion & { config: ModelConfig; scheduler: ModelRunner } {
    const mv = this.find(name, version);
    if (mv.state !== 'READY' || !mv.config || !mv.scheduler) {
      throw new VireoError('VIREO_ERR_MODEL_NOT_READY', `model "${name}" version ${mv.version} is ${mv.state}${mv.reason ? `: ${mv.reason}` : ''}`);
    }
    return mv as ModelVersion & { config: ModelConfig; scheduler: ModelRunner };
  }

  /**
   * Every model of the repository (as of the last scan) and every version known, by name; `ready`
   * keeps READY rows, `served` drops models not loaded, unloaded or evicted (metrics use it).
   */
  index(options: IndexOptions = {}): ModelIndexEntry[] {
    return buildIndex([...new Set([...this.#discovered, ...this.#models.keys()])], this.#models, options, this.#budget !== undefined);
  }
}
