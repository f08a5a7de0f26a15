/**
 * The composition root of `vireo batch`: the same repository, facade, scheduler and instances as
 * `vireo serve`, but no HTTP or gRPC frontend — the batch frontend (src/batch/) calls the facade
 * in-process. Metrics, when asked for, are the server's families plus the job's own, on their own port.
 */
import { resolve } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { runBatchJob, type BatchJobOptions } from '../batch/batch-job.js';
import { makeOutputFolder } from '../batch/part-store.js';
import type { BatchObserver, BatchSummary } from '../batch/job-stats.js';
import { VireoError } from '../core/errors.js';
import { BatchJobMetrics } from '../metrics/batch-job-metrics.js';
import { VireoMetrics } from '../metrics/vireo-metrics.js';
import { listenMetrics, type MetricsListener } from '../protocols/metrics-http/metrics-http-server.js';
import { parseInferBody } from '../protocols/oip-http/oip-json-codec.js';
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
  /** Models to load besides `model` (those its handler or ensemble calls); default: every model. */
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

/** What the job's output depends on: the content hashes of every loaded model's files (not their stat). */
async function repositoryIdentity(root: string, names: readonly string[]): Promise<Record<string, unknown>> {
  const identity: Record<string, unknown> = {};
  for (const name of [...names].sort()) {
    const fingerprint = await fingerprintModel(resolve(root, name));
    const hashes = (files: Record<string, { hash: string }>) => Object.fromEntries(Object.entries(files).map(([path, f]) => [path, f.hash]));
    identity[name] = { model: hashes(fingerprint.model), versions: Object.fromEntries(Object.entries(fingerprint.versions).map(([v, files]) => [v, hashes(files)])) };
  }
  return identity;
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
    startupModels: options.loadModels && options.loadModels.length > 0 ? [options.model, ...options.loadModels] : ['*'],
    recorderFor: (model, version) => combineRecorders([metrics?.recorderFor(model, version)]),
    callModel: (call) => facade!.callModel(call),
  });
  const server = new InferenceServer({ repository, logger: options.logger });
  facade = server;
  let listener: MetricsListener | undefined;
  try {
    if (metrics) {
      metrics.watch(() => repository.index({ served: true }));
      listener = await listenMetrics({ source: metrics, logger: options.logger, port: options.metricsPort!, host: options.metricsAddress ?? '127.0.0.1' });
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
    return await runBatchJob({ ...options, server, modelIdentity: await repositoryIdentity(options.modelRepository, loaded), observer, oipRequest });
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
