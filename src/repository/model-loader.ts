/**
 * Loads one version of one model: starts its instances in worker threads, completes and checks
 * the configuration against the model, and builds its scheduler. On any failure every instance
 * already started is closed again, so a failed load leaks no worker. `model_warmup` runs before
 * the scheduler is built, so a version is warm before it can be READY.
 */
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { USABLE_CORES } from '../core/cpu-budget.js';
import { VireoError } from '../core/errors.js';
import type { ModelCall, ModelInstance, ModelSignature } from '../backends/backend.js';
import { executionPool } from '../backends/execution-pool.js';
import { PooledInstance, type Placement } from '../backends/pooled-instance.js';
import { RestartingInstance } from '../backends/restarting-instance.js';
import { openHandlerInstance } from '../backends/handler/open-handler.js';
import type { Tensor } from '../core/tensor.js';
import type { Logger } from '../logging/logger.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { SequenceBatcher } from '../scheduler/sequence-batcher.js';
import { DecoupledRunner } from '../scheduler/decoupled-runner.js';
import { CachingRunner } from '../scheduler/caching-runner.js';
import { NOOP_RECORDER } from '../scheduler/recorder.js';
import type { ResponseCache } from '../scheduler/response-cache.js';
import type { ModelRunner } from './model-entry.js';
import { sequenceBatcherOptions } from './sequence-setup.js';
import type { SchedulerRecorder } from '../scheduler/recorder.js';
import { completeConfig } from './auto-complete.js';
import { parameterNumber, type ModelConfig, type ParsedModelConfig } from './model-config.js';
import { DEFAULT_MODEL_DEFAULTS, executionsPerInstance, queueBound, jobInstanceGroup, type ModelDefaults } from './model-defaults.js';
import { runWarmup } from './model-warmup.js';
import { relativeSegments } from './safe-path.js';
import { trimNativeHeapSoon } from '../core/native-heap.js';

export interface LoadVersionOptions {
  modelName: string;
  modelDir: string;
  version: number;
  parsed: ParsedModelConfig;
  autoComplete: boolean;
  defaultMaxBatchSize: number;
  logger: Logger;
  recorder?: SchedulerRecorder;
  /** Runs a request on another model through the facade (BLS calls from handler code). */
  callModel?: (call: ModelCall) => Promise<Tensor[]>;
  /** Bounds for what the configuration leaves unset (model-defaults.ts). */
  defaults?: ModelDefaults;
  /** The server's response cache (--cache-config), used when the model enables response_cache. */
  responseCache?: ResponseCache;
  /**
   * Whether one more session of this version fits the memory budget now (absent: no budget). Asked
   * before the batch jobs' background instance opens; when it does not fit, jobs run on the loaded
   * instances, behind real-time requests.
   */
  backgroundAdmission?: () => boolean;
}

export interface LoadedVersion {
  config: ModelConfig;
  instances: ModelInstance[];
  scheduler: ModelRunner;
}

function executionProviders(parsed: ParsedModelConfig): string[] {
  const accelerators = parsed.optimization?.execution_accelerators;
  const fromTriton = [...(accelerators?.gpu_execution_accelerator ?? []), ...(accelerators?.cpu_execution_accelerator ?? [])]
    .map((a) => (a.name === 'tensorrt' ? 'tensorrt' : a.name === 'openvino' ? 'openvino' : a.name));
  const gpuGroups = parsed.instance_group?.some((g) => g.kind === 'KIND_GPU') ? ['cuda'] : [];
  return [...new Set([...(parsed.execution_providers ?? []), ...fromTriton, ...gpuGroups])];
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * The configured file, or the backend's default (a handler may be model.ts or model.js). A
 * configured name comes from a config file or a load request, so it is held inside the version
 * directory like an uploaded path (no absolute paths, no `..`): it names model code to run.
 */
async function modelFile(options: LoadVersionOptions, typescript: boolean): Promise<{ filename: string; modelPath: string }> {
  const configured = options.parsed.default_model_filename;
  const candidates = configured
    ? [relativeSegments(configured, 'default_model_filename').join('/')]
    : typescript ? ['model.ts', 'model.js', 'model.mjs'] : ['model.onnx'];
  for (const filename of candidates) {
    const modelPath = join(options.modelDir, String(options.version), filename);
    if (await isFile(modelPath)) return { filename, modelPath };
  }
  throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `model file ${options.version}/${candidates.join(' or ')} is missing`);
}

/** A handler's signature as its configuration declares it (-1 first when the model batches). */
function declaredSignature(parsed: ParsedModelConfig): ModelSignature | undefined {
  if (!parsed.input?.length || !parsed.output?.length) return undefined;
  const batch = (parsed.max_batch_size ?? 0) > 0 ? [-1] : [];
  const tensors = (list: NonNullable<ParsedModelConfig['input']>) => list.map((t) => ({ name: t.name, datatype: t.data_type, rawType: t.data_type, dims: [...batch, ...t.dims] }));
  return { inputs: tensors(parsed.input), outputs: tensors(parsed.output) };
}

/**
 * `parameters.execution_worker`: `dedicated`, `shared`, or `auto` (the default: shared until its calls
 * prove heavy; `dedicated` for a model the defaults name, see ModelDefaults.dedicatedModels).
 */
export function executionPlacement(parsed: ParsedModelConfig, dedicatedByDefault: boolean): Placement {
  const text = String(parsed.parameters?.execution_worker ?? (dedicatedByDefault ? 'dedicated' : 'auto'));
  if (text === 'auto' || text === 'dedicated' || text === 'shared') return text;
  throw new VireoError('VIREO_ERR_CONFIG_INVALID', `parameters.execution_worker must be auto, dedicated or shared, not "${text}"`);
}

/**
 * `own` (default): batch-job work runs on a background instance of its own at low CPU priority
 * (scheduler/background-lane.ts); `shared`: on the model's instances, behind real-time requests
 * (no second session in memory while a job runs).
 */
function batchJobInstance(parsed: ParsedModelConfig): 'own' | 'shared' {
  const text = String(parsed.parameters?.batch_job_instance ?? 'own');
  if (text === 'own' || text === 'shared') return text;
  throw new VireoError('VIREO_ERR_CONFIG_INVALID', `parameters.batch_job_instance must be own or shared, not "${text}"`);
}

/** Long enough to catch the next request of a closed-loop client over loopback HTTP. */
const DEFAULT_SPIN_WAIT_US = 1000;
/** Handler versions loaded so far in this process (see handlerKey). */
let handlerLoads = 0;

export async function loadVersion(options: LoadVersionOptions): Promise<LoadedVersion> {
  const { logger } = options;
  const defaults = options.defaults ?? DEFAULT_MODEL_DEFAULTS;
  const parsed = jobInstanceGroup(options.parsed, options.modelName, defaults, USABLE_CORES);
  const typescript = parsed.backend === 'typescript';
  const { filename, modelPath } = await modelFile(options, typescript);
  // An empty instance_group is Triton's default, one instance, as auto-complete reads it.
  const instanceCount = (parsed.instance_group?.length ? parsed.instance_group : [{ count: 1 }]).reduce((sum, g) => sum + (g.count ?? 1), 0);
  const budgetThreads = Math.max(1, Math.floor(USABLE_CORES / instanceCount));
  const configuredThreads = parameterNumber(parsed, 'intra_op_threads');
  const instanceOptions = {
    modelPath,
    intraOpThreads: configuredThreads ?? budgetThreads,
    interOpThreads: parameterNumber(parsed, 'inter_op_threads') ?? 1,
    allowSpinning: (parameterNumber(parsed, 'allow_spinning') ?? 1) !== 0,
    spinBetweenRuns: (parameterNumber(parsed, 'spin_between_runs') ?? (defaults.spinBetweenRuns ? 1 : 0)) !== 0,
    spinWaitUs: parameterNumber(parsed, 'spin_wait_us') ?? DEFAULT_SPIN_WAIT_US,
    graphOptimizationLevel: parameterNumber(parsed, 'graph_optimization_level') ?? parsed.optimization?.graph?.level,
    executionProviders: executionProviders(parsed),
    handler: typescript
      ? { modelName: options.modelName, version: options.version, config: JSON.parse(JSON.stringify(parsed)) as Record<string, unknown>, declared: declaredSignature(parsed) }
      : undefined,
  };
  const log = logger.child({ model: options.modelName, version: String(options.version) });
  if (parsed !== options.parsed) log.info({ instances: instanceCount, intraOpThreads: configuredThreads ?? budgetThreads }, 'instances for the batch job (--instances), in place of the configuration\'s instance_group');
  const workerLog = (level: 'info' | 'warn' | 'error', message: string) => log[level](message);

  const executeTimeoutMs = parameterNumber(parsed, 'execute_timeout_ms') ?? (typescript ? defaults.handlerExecuteTimeoutMs : undefined);
  // onnxruntime allocates natively, outside the heap: the bound is for handler code.
  const heapLimitMb = parameterNumber(parsed, 'max_heap_mb') ?? (typescript ? defaults.handlerHeapLimitMb : undefined);
  // ONNX sessions share the execution pool's threads, handlers the shared handler thread, until their
  // calls prove heavy (docs/ARCHITECTURE.md, "Execution pool"); handler code that crashes, hangs or
  // exits fails its own call, and what shared its thread reopens on a new one (open-handler.ts).
  const placement = executionPlacement(parsed, defaults.dedicatedModels?.includes(options.modelName) ?? false);
  const jobInstance = batchJobInstance(parsed);
  // What the version's first instance read: every later instance (group, restart, background) must match it.
  let loadedHash: string | undefined;
  // What each of the group's first instances read: they open at once, so none can check against another.
  let openedHashes: string[] | undefined = [];
  const compiledHandler: { module?: Promise<string | undefined> } = {};
  // One key per load, not per file: a reload's new instance shares the handler thread with the old one
  // it replaces, instead of being kept off it as if it were another instance of the same group.
  const handlerKey = `${modelPath}#${++handlerLoads}`;
  const startInstance = () => RestartingInstance.start(
    (onDeath) => typescript
      ? openHandlerInstance({
        key: handlerKey, options: instanceOptions, placement, ownHeapBound: parameterNumber(parsed, 'max_heap_mb') !== undefined,
        stateful: parsed.sequence_batching !== undefined,
        log: workerLog, callModel: options.callModel, executeTimeoutMs, heapLimitMb, onDeath,
      }, compiledHandler)
      : PooledInstance.open(executionPool(), {
        key: modelPath,
        options: { ...instanceOptions, intraOpThreads: configuredThreads },
        dedicatedIntraOpThreads: budgetThreads,
        placement,
        log: workerLog,
        executeTimeoutMs,
        onDeath,
        expectedHash: () => loadedHash,
      }).then((opened) => {
        loadedHash ??= opened.fileHash || undefined;
        openedHashes?.push(opened.fileHash);
        return opened;
      }),
    workerLog,
  );
  const instances: RestartingInstance[] = [];
  try {
    // An ONNX group's sessions open at once: each load is one thread's work (≈ 1 s for a 75 MB MLP
    // here), so a two-instance group was ready a second later than it could be. A handler group opens
    // its first instance alone, as it always has: its shared-thread placement is decided while it opens.
    const first = typescript ? [await startInstance()] : [];
    const rest = await Promise.allSettled(Array.from({ length: instanceCount - first.length }, () => startInstance()));
    instances.push(...first);
    for (const r of rest) if (r.status === 'fulfilled') instances.push(r.value);
    const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    // Opened side by side, they are compared once all have read the file ('' is a file that changed while read).
    if (new Set(openedHashes.filter(Boolean)).size > 1) {
      throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', 'the model file changed while the instances of this version opened it: load the model again');
    }
    openedHashes = undefined;
    const config = completeConfig(parsed, instances[0]!.signature, {
      modelName: options.modelName,
      autoComplete: options.autoComplete,
      defaultMaxBatchSize: options.defaultMaxBatchSize,
      defaultFilename: filename,
    });
    // Warm before the scheduler exists: nothing can reach these instances until they are warm.
    const warmups = await runWarmup(config, instances, options.modelDir);
    if (warmups > 0) log.debug({ executions: warmups }, 'model warmed up');
    const decoupled = config.model_transaction_policy?.decoupled === true;
    if (decoupled && !typescript) throw new VireoError('VIREO_ERR_CONFIG_INVALID', 'model_transaction_policy.decoupled needs backend: typescript (a handler that exports stream())');
    if (decoupled && config.dynamic_batching) throw new VireoError('VIREO_ERR_CONFIG_INVALID', 'a decoupled model runs each request as its own stream: remove dynamic_batching');
    let scheduler: ModelRunner = decoupled
      ? new DecoupledRunner({ model: config.name, instances, recorder: options.recorder })
      : config.sequence_batching
      ? new SequenceBatcher(await sequenceBatcherOptions(config, options.modelDir, instances, options.recorder))
      : new Scheduler({
        instances,
        executionsPerInstance: executionsPerInstance(parsed, options.modelName, defaults),
        maxBatchSize: config.max_batch_size,
        dynamicBatching: config.dynamic_batching,
        defaultMaxQueueSize: queueBound(defaults, instances.length, config.max_batch_size),
        recorder: options.recorder,
        yieldToRealtime: (parameterNumber(parsed, 'batch_job_yield') ?? 0) !== 0,
        backgroundLane: typescript || jobInstance === 'shared' ? undefined : {
          open: async () => {
            if (options.backgroundAdmission && !options.backgroundAdmission()) {
              throw new VireoError('VIREO_ERR_MEMORY_BUDGET_EXHAUSTED', 'a second session of this model does not fit the memory budget now');
            }
            return PooledInstance.open(executionPool(), {
              key: modelPath,
              options: { ...instanceOptions, intraOpThreads: configuredThreads },
              dedicatedIntraOpThreads: USABLE_CORES,
              placement: 'background',
              log: workerLog,
              executeTimeoutMs,
              expectedHash: () => loadedHash,
            });
          },
          log: workerLog,
        },
      });
    if (config.response_cache?.enable) {
      if (decoupled || config.sequence_batching) throw new VireoError('VIREO_ERR_CONFIG_INVALID', 'response_cache cannot serve a decoupled or sequence-batched model (their responses depend on more than the request)');
      if (options.responseCache) scheduler = new CachingRunner(scheduler, options.responseCache, { model: options.modelName, version: String(options.version) }, options.recorder ?? NOOP_RECORDER);
      else log.warn('response_cache.enable is set but the server runs without a cache (--cache-config local,size=<bytes>): responses are not cached');
    }
    return { config, instances, scheduler };
  } catch (error) {
    await Promise.all(instances.map((i) => i.close()));
    throw VireoError.from(error);
  } finally {
    // Opening a session leaves the parsed model file and the loader's buffers freed behind it
    // (megabytes per megabyte of weights), and warm-up its tensors: back to the system (native-heap.ts).
    trimNativeHeapSoon();
  }
}
