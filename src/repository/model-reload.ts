/**
 * Loading or reloading one model: read its configuration (or the override), fingerprint its files,
 * decide which versions to (re)load, load them beside the serving ones (one at a time under a
 * memory budget), swap them in atomically, then retire the replaced versions (drain, end workers).
 */
import type { ResponseCache } from '../scheduler/response-cache.js';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { VireoError } from '../core/errors.js';
import type { Logger } from '../logging/logger.js';
import { readModelConfig, warnUnimplemented } from './config-file.js';
import type { ParsedModelConfig } from './model-config.js';
import type { ModelBudget } from './model-budget.js';
import { newVersion, retireVersion, type ModelEntry, type ModelVersion, type VersionRecorder } from './model-entry.js';
import { fingerprintModel, modelFilesChanged, versionChanged } from './model-fingerprint.js';
import { loadVersion } from './model-loader.js';
import { ModelCodecs } from '../codecs/model-codecs.js';
import type { ModelCall } from '../backends/backend.js';
import type { Tensor } from '../core/tensor.js';
import type { ModelConfig } from './model-config.js';
import { loadEnsembleVersion } from './ensemble-loader.js';
import type { ModelDefaults } from './model-defaults.js';
import { listVersions, selectVersions } from './version-policy.js';
import { repositoryRelative } from './safe-path.js';
import { planEnsemble } from './ensemble-plan.js';

export interface ReloadContext {
  root: string;
  logger: Logger;
  autoComplete: boolean;
  defaultMaxBatchSize: number;
  /** Fingerprint files so later loads reload only what changed (poll and explicit modes). */
  tracksChanges: boolean;
  recorderFor?: (model: string, version: string) => VersionRecorder | undefined;
  budget?: ModelBudget;
  /** True once the repository closed: a load finishing then ends its instances at once. */
  closed: () => boolean;
  /** Drops a model that turned out not to exist. */
  forget: (entry: ModelEntry) => void;
  /** How handler code and ensembles call other models (the facade). */
  callModel?: (call: ModelCall) => Promise<Tensor[]>;
  /** The server's response cache, for models that enable response_cache. */
  responseCache?: ResponseCache;
  /** The configuration of a ready model version, for ensembles' steps. */
  lookup: (model: string, version: string | undefined) => ModelConfig | undefined;
  /** Bounds for what a configuration leaves unset (model-defaults.ts). */
  defaults?: ModelDefaults;
}

export async function reloadModel(entry: ModelEntry, configGiven: boolean, context: ReloadContext): Promise<void> {
  const log = context.logger.child({ model: entry.name });
  const wasWanted = entry.wanted;
  entry.wanted = true;
  if (!entry.servingVersion()) entry.state = 'LOADING';
  let dir: string;
  try {
    dir = await realpath(join(context.root, entry.name));
  } catch {
    const error = new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `model "${entry.name}" is not in the repository`);
    if (!entry.servingVersion()) {
      entry.wanted = wasWanted;
      entry.fail(error.message);
      // An operation queued behind this one (an upload that creates the folder) runs on this entry:
      // forgotten, it would load workers no request can reach and answer 200 for a model that is unknown.
      if (entry.operations <= 1) context.forget(entry);
    }
    log.error({ reason: error.message }, 'model failed to load');
    throw error;
  }
  const tracks = context.tracksChanges;
  let parsed: ParsedModelConfig;
  let selected: string[];
  let fingerprint;
  try {
    // Fingerprint first: a model that fails on its config is then not retried until it changes.
    fingerprint = tracks ? await fingerprintModel(dir, entry.fingerprint) : undefined;
    if (entry.override) {
      parsed = entry.override;
    } else {
      const read = await readModelConfig(dir);
      parsed = read.config;
      warnUnimplemented(log, read.file, read.unimplemented);
    }
    const available = await listVersions(dir);
    selected = selectVersions(available, parsed.version_policy ?? { latest: { num_versions: 1 } }).map(String);
    if (selected.length === 0) {
      throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', available.length === 0
        ? 'no version directories (expected <model>/<positive integer>/)'
        : `version_policy selects none of the available versions ${available.join(', ')}`);
    }
  } catch (error) {
    const e = clientSafe(VireoError.from(error), context.root, dir, entry.name);
    entry.fingerprint = fingerprint ?? entry.fingerprint;
    if (!entry.servingVersion()) entry.fail(e.message);
    log.error({ reason: e.message }, 'model failed to load');
    throw e;
  }
  const full = configGiven || !wasWanted || !fingerprint || modelFilesChanged(entry.fingerprint, fingerprint);
  const toLoad = selected.filter((v) => {
    const current = entry.versions.get(v);
    return full || current?.state !== 'READY' || versionChanged(entry.fingerprint, fingerprint!, v);
  });
  const fresh = toLoad.map((v) => newVersion(entry.name, v, context.recorderFor));
  for (const mv of fresh) if (entry.versions.get(mv.version)?.state !== 'READY') entry.versions.set(mv.version, mv);
  const loadVersionInBudget = async (mv: ModelVersion) => {
    const run = () => loadOne(mv, dir, parsed, log, context);
    return context.budget ? context.budget.loading(entry, mv, dir, parsed, run) : run();
  };
  if (context.budget) for (const mv of fresh) await loadVersionInBudget(mv);
  else await Promise.all(fresh.map(loadVersionInBudget));
  // Checked again as the versions go in, with no await before the swap: two ensembles reloaded side by
  // side were each planned against the other's old configuration, and could close a loop between them.
  if (parsed.platform === 'ensemble') for (const mv of fresh) if (mv.state === 'READY') recheckEnsemble(mv, parsed, context, log);
  const retiring = entry.swap(fresh, selected);
  entry.fingerprint = fingerprint;
  entry.settleState();
  await Promise.all(retiring.map((mv) => retireVersion(mv, log)));
  const failed = fresh.find((mv) => mv.error);
  if (failed) throw new VireoError(failed.error!.code, `model "${entry.name}" version ${failed.version} failed to load: ${failed.error!.message}`);
}

/** The error with the repository's absolute location removed from its message (clients read it). */
function clientSafe(error: VireoError, root: string, dir: string, model: string): VireoError {
  const message = repositoryRelative(error.message, root, dir, model);
  return message === error.message ? error : new VireoError(error.code, message, { cause: error });
}

/** planEnsemble against what serves now; a version it refuses does not go in (its runner, which holds no instances, closes). */
function recheckEnsemble(mv: ModelVersion, parsed: ParsedModelConfig, context: ReloadContext, log: Logger): void {
  try {
    planEnsemble(parsed, mv.model, context.lookup);
  } catch (error) {
    void mv.scheduler?.close();
    mv.scheduler = undefined;
    mv.error = VireoError.from(error);
    mv.state = 'UNAVAILABLE';
    mv.reason = mv.error.message;
    log.error({ version: mv.version, reason: mv.reason }, 'model failed to load');
  }
}

async function loadOne(mv: ModelVersion, dir: string, parsed: ParsedModelConfig, log: Logger, context: ReloadContext): Promise<void> {
  const t0 = performance.now();
  try {
    const loaded = parsed.platform === 'ensemble'
      ? loadEnsembleVersion({ name: mv.model, parsed, recorder: mv.recorder, callModel: context.callModel, lookup: context.lookup })
      : await loadVersion({
          modelName: mv.model, modelDir: dir, version: Number(mv.version), parsed,
          autoComplete: context.autoComplete,
          defaultMaxBatchSize: context.defaultMaxBatchSize,
          logger: log,
          recorder: mv.recorder,
          callModel: context.callModel,
          defaults: context.defaults,
          responseCache: context.responseCache,
          // One session's share of the memory the version measured at load.
          backgroundAdmission: context.budget ? () => context.budget!.hasRoomFor((mv.memoryBytes ?? 0) / Math.max(1, mv.instances?.length ?? 1)) : undefined,
        });
    let codecs: ModelCodecs;
    try {
      codecs = await ModelCodecs.build(loaded.config, dir);
    } catch (error) {
      await loaded.scheduler.close();
      await Promise.all(loaded.instances.map((i) => i.close()));
      throw error;
    }
    if (context.closed()) {
      await loaded.scheduler.close();
      await Promise.all(loaded.instances.map((i) => i.close()));
      throw new VireoError('VIREO_ERR_SERVER_SHUTTING_DOWN', 'the server closed while the model was loading');
    }
    Object.assign(mv, loaded, { codecs, state: 'READY' as const });
    mv.extra?.loaded?.((performance.now() - t0) / 1000);
    log.info({
      version: mv.version, loadMs: Math.round(performance.now() - t0),
      inputs: loaded.config.input.map((i) => `${i.name}:${i.data_type}[${i.dims.join(',')}]`),
      outputs: loaded.config.output.map((o) => `${o.name}:${o.data_type}[${o.dims.join(',')}]`),
      maxBatchSize: loaded.config.max_batch_size, instances: loaded.instances.length,
    }, 'model loaded');
  } catch (error) {
    mv.error = clientSafe(VireoError.from(error), context.root, dir, mv.model);
    mv.state = 'UNAVAILABLE';
    mv.reason = mv.error.message;
    mv.extra?.loaded?.((performance.now() - t0) / 1000);
    log.error({ version: mv.version, reason: mv.reason, loadMs: Math.round(performance.now() - t0) }, 'model failed to load');
  }
}
