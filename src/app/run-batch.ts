/**
 * The composition root of `vireo batch`: the same repository, facade, scheduler and instances as
 * `vireo serve`, but no HTTP or gRPC frontend — the batch frontend (src/batch/) calls the facade
 * in-process. Metrics, when asked for, are the server's families plus the job's own, on their own port.
 */
import { join, resolve } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { runBatchJob, type BatchJobOptions } from '../batch/batch-job.js';
import { makeOutputFolder } from '../batch/part-store.js';
import type { BatchObserver, BatchSummary } from '../batch/job-stats.js';
import { VireoError } from '../core/errors.js';
import { BatchJobMetrics } from '../metrics/batch-job-metrics.js';
import { VireoMetrics } from '../metrics/vireo-metrics.js';
import { listenMetrics, type MetricsListener } from '../protocols/metrics-http/metrics-http-server.js';
import { parseInferBody } from '../protocols/oip-http/oip-json-codec.js';
import { readModelConfig } from '../repository/config-file.js';
import { composingModels } from '../repository/ensemble-loader.js';
import { fingerprintModel } from '../repository/model-fingerprint.js';
import { ModelRepository } from '../repository/model-repository.js';
import { InferenceServer } from '../server/inference-server.js';
import { checkRepositoryDirectory } from './startup-checks.js';
import { combineRecorders } from './version-recorders.js';

export interface RunBatchOptions extends Omit<BatchJobOptions, 'server' | 'modelIdentity' | 'observer' | 'oipRequest'> {
  modelRepository: string;
  logger: Logger;
  autoComplete?: boolean;
  defaultMaxBatchSize?: number;
  /** Models to load besides `model` (those its handler calls); default: see startupModelsOf. */
  loadModels?: string[];
  /** Prometheus endpoint port while the job runs: 0 picks one, absent or -1: none. */
  metricsPort?: number;
  metricsAddress?: string;
  observer?: BatchObserver;
  /** Called once the metrics endpoint listens (its URL). */
  onMetricsUrl?: (url: string) => void;
  /**
   * Instances of the job's model: `auto` (default) one single-threaded instance per core, a number
   * that many, `config` what its configuration says (ModelDefaults.jobInstances).
   */
  instances?: number | 'auto' | 'config';
}

/**
 * What `vireo batch` loads when --load-model names nothing: the job's model alone (an ensemble's steps
 * load with it, as in Triton's explicit mode), unless the model or a step is a handler — a handler
 * declares no calls, so then every model of the repository, which it may call. Loading the whole
 * repository for one ONNX model made the job pay every other model's start-up and memory.
 */
async function startupModelsOf(root: string, model: string): Promise<string[]> {
  const seen = new Set<string>();
  const callsAnyModel = async (name: string): Promise<boolean> => {
    if (seen.has(name)) return false;
    seen.add(name);
    let config;
    try {
      config = (await readModelConfig(join(root, name))).config;
    } catch {
      return false; // the load reports it
    }
    if (config.backend === 'typescript') return true;
    for (const step of await composingModels(root, name, config)) if (await callsAnyModel(step)) return true;
    return false;
  };
  return (await callsAnyModel(model)) ? ['*'] : [model];
}

/** What one model adds to a job's identity: the content hashes of its config (and warmup) files and of the versions the job uses. */
interface ModelFiles { model: Record<string, string>; versions: Record<string, Record<string, string>> }

/**
 * The models whose files decide the job's answers, each with the versions it answers from: the job's
 * model, the steps of an ensemble (through nested ensembles), and for a handler, which declares no calls
 * and may call any model loaded beside it, those (--load-model, else every model). Models loaded but
 * never called do not count, so adding or editing one does not refuse a half-finished job. An empty set
 * of versions (a model that is not ready) stands for all of them.
 */
function modelsOfJob(repository: ModelRepository, model: string, version: string | undefined, loaded: readonly string[]): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  const visit = (name: string, wanted: string | undefined): void => {
    const versions = used.get(name) ?? new Set<string>();
    used.set(name, versions);
    let found;
    try {
      found = repository.find(name, wanted);
    } catch {
      return; // its calls fail as the job runs; every version of it counts
    }
    if (versions.has(found.version)) return;
    versions.add(found.version);
    for (const step of found.config?.ensemble_scheduling?.step ?? []) visit(step.model_name, step.model_version > 0 ? String(step.model_version) : undefined);
    if (found.config?.backend === 'typescript') {
      for (const other of loaded) for (const v of repository.versionsOf(other)) if (v.state === 'READY') visit(other, v.version);
    }
  };
  visit(model, version);
  return used;
}

/**
 * The job's model identity: one field per model it uses, so that a refusal can name the model that
 * changed (describeModelChange). Content hashes, not stat: a file touched without a change is no change.
 */
async function modelIdentity(root: string, used: ReadonlyMap<string, ReadonlySet<string>>): Promise<Record<string, ModelFiles>> {
  const hashes = (files: Record<string, { hash: string }> = {}) => Object.fromEntries(Object.entries(files).map(([path, f]) => [path, f.hash]));
  const identity: Record<string, ModelFiles> = {};
  for (const [name, versions] of [...used].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const fingerprint = await fingerprintModel(resolve(root, name));
    const kept = versions.size > 0 ? [...versions] : Object.keys(fingerprint.versions);
    identity[name] = { model: hashes(fingerprint.model), versions: Object.fromEntries(kept.sort().map((v) => [v, hashes(fingerprint.versions[v])])) };
  }
  return identity;
}

/** Files of one model's identity, by path (versions' files as `<version>/<path>`). */
function filesOf(entry: ModelFiles | undefined): Map<string, string> {
  const files = new Map(Object.entries(entry?.model ?? {}));
  for (const [v, list] of Object.entries(entry?.versions ?? {})) for (const [path, hash] of Object.entries(list)) files.set(`${v}/${path}`, hash);
  return files;
}

/**
 * What changed between two model identities, named by model and file for the part store's refusal
 * (it would otherwise say only "modelIdentity"); undefined when they are not of this shape.
 */
function describeModelChange(before: unknown, now: unknown): string | undefined {
  if (!before || typeof before !== 'object' || !now || typeof now !== 'object') return undefined;
  const [was, is] = [before as Record<string, ModelFiles>, now as Record<string, ModelFiles>];
  const changes: string[] = [];
  for (const name of [...new Set([...Object.keys(was), ...Object.keys(is)])].sort()) {
    if (!(name in was)) changes.push(`model "${name}" is used now`);
    else if (!(name in is)) changes.push(`model "${name}" is no longer used`);
    else {
      const [a, b] = [filesOf(was[name]), filesOf(is[name])];
      const files = [...new Set([...a.keys(), ...b.keys()])].filter((f) => a.get(f) !== b.get(f)).sort();
      if (files.length > 0) changes.push(`the files of model "${name}" (${files.slice(0, 5).join(', ')}${files.length > 5 ? ', …' : ''})`);
    }
  }
  return changes.join('; ') || undefined;
}

export async function runBatch(options: RunBatchOptions): Promise<BatchSummary> {
  // As `vireo serve` does: one clear line for a repository that is missing, a file or unreadable.
  await checkRepositoryDirectory(options.modelRepository);
  // Before any model loads: an output folder that cannot be made fails the job in a moment, not after the load.
  await makeOutputFolder(options.output);
  const metricsOn = options.metricsPort !== undefined && options.metricsPort >= 0;
  const metrics = metricsOn ? new VireoMetrics() : undefined;
  const jobMetrics = metrics ? new BatchJobMetrics(metrics.registry, options.model) : undefined;
  let facade: InferenceServer | undefined;
  const repository = new ModelRepository({
    root: resolve(options.modelRepository),
    logger: options.logger,
    autoComplete: options.autoComplete ?? true,
    defaultMaxBatchSize: options.defaultMaxBatchSize ?? 4,
    controlMode: 'explicit',
    // The job's model runs without pause: a worker of its own from the start, each instance with its
    // next batch already waiting in its worker, and (`--instances auto`) one single-threaded instance
    // per core (model-defaults.ts).
    modelDefaults: {
      dedicatedModels: [options.model],
      pipelinedModels: [options.model],
      ...(options.instances === 'config' ? {} : { jobInstances: { model: options.model, count: options.instances ?? 'auto' } }),
    },
    startupModels: options.loadModels && options.loadModels.length > 0 ? [options.model, ...options.loadModels] : await startupModelsOf(resolve(options.modelRepository), options.model),
    recorderFor: (model, version) => combineRecorders([metrics?.recorderFor(model, version)]),
    callModel: (call) => facade!.callModel(call),
  });
  const server = new InferenceServer({ repository, logger: options.logger });
  facade = server;
  let listener: MetricsListener | undefined;
  try {
    if (metrics) {
      metrics.watch(() => repository.index({ served: true }));
      const host = options.metricsAddress ?? '127.0.0.1';
      // One line naming the option, as for a repository that cannot be read (before any model loads).
      listener = await listenMetrics({ source: metrics, logger: options.logger, port: options.metricsPort!, host }).catch((error: NodeJS.ErrnoException) => {
        const why = error.code === 'EADDRINUSE' ? 'the port is already in use' : `cannot listen (${error.code ?? error.message})`;
        throw new VireoError('VIREO_ERR_CONFIG_INVALID', `--metrics-port ${options.metricsPort} on ${host}: ${why}`);
      });
      options.onMetricsUrl?.(`${listener.url}/metrics`);
    }
    await repository.loadAll();
    const entry = repository.index().find((e) => e.name === options.model && e.state !== 'READY' && e.reason);
    if (!server.modelReady(options.model, options.version)) {
      const known = repository.has(options.model);
      throw new VireoError(known ? 'VIREO_ERR_MODEL_NOT_READY' : 'VIREO_ERR_MODEL_NOT_FOUND',
        known ? `model "${options.model}" did not load${entry?.reason ? `: ${entry.reason}` : ''}` : `no model "${options.model}" in ${options.modelRepository}`);
    }
    const loaded = [...new Set(repository.index().filter((e) => e.state === 'READY').map((e) => e.name))];
    const observer: BatchObserver | undefined = jobMetrics || options.observer ? fanOut([jobMetrics, options.observer]) : undefined;
    // JSONL bodies with `inputs` are read exactly as POST /v2/models/{m}/infer reads them.
    const oipRequest = (body: Record<string, unknown>, model: string, version: string | undefined) => parseInferBody(body, model, version);
    const identity = await modelIdentity(options.modelRepository, modelsOfJob(repository, options.model, options.version, loaded));
    return await runBatchJob({ ...options, server, modelIdentity: identity, describeModelChange, observer, oipRequest });
  } finally {
    await repository.close();
    await listener?.close();
  }
}

function fanOut(observers: (BatchObserver | undefined)[]): BatchObserver {
  const list = observers.filter((o): o is BatchObserver => o !== undefined);
  return {
    started: (...args) => { for (const o of list) o.started?.(...args); },
    batch: (...args) => { for (const o of list) o.batch?.(...args); },
    part: (...args) => { for (const o of list) o.part?.(...args); },
    resumed: (...args) => { for (const o of list) o.resumed?.(...args); },
    stage: (...args) => { for (const o of list) o.stage?.(...args); },
  };
}
