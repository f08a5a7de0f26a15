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
import { RestartingInstance } from '../backends/restarting-instance.js';
import { WorkerInstance } from '../backends/worker-instance.js';
import type { Tensor } from '../core/tensor.js';
import type { Logger } from '../logging/logger.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { SchedulerRecorder } from '../scheduler/recorder.js';
import { completeConfig } from './auto-complete.js';
import { parameterNumber, type ModelConfig, type ParsedModelConfig } from './model-config.js';
import { DEFAULT_MODEL_DEFAULTS, queueBound, type ModelDefaults } from './model-defaults.js';
import { runWarmup } from './model-warmup.js';

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
}

export interface LoadedVersion {
  config: ModelConfig;
  instances: ModelInstance[];
  scheduler: Scheduler;
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

/** The configured file, or the backend's default (a handler may be model.ts or model.js). */
async function modelFile(options: LoadVersionOptions, typescript: boolean): Promise<{ filename: string; modelPath: string }> {
  const candidates = options.parsed.default_model_filename
    ? [options.parsed.default_model_filename]
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

/** Long enough to catch the next request of a closed-loop client over loopback HTTP. */
const DEFAULT_SPIN_WAIT_US = 1000;

export async function loadVersion(options: LoadVersionOptions): Promise<LoadedVersion> {
  const { parsed, logger } = options;
  const typescript = parsed.backend === 'typescript';
  const backend = typescript ? 'typescript' : 'onnx';
  const { filename, modelPath } = await modelFile(options, typescript);
  const instanceCount = (parsed.instance_group ?? [{ count: 1 }]).reduce((sum, g) => sum + (g.count ?? 1), 0);
  const intraOpThreads = parameterNumber(parsed, 'intra_op_threads')
    ?? Math.max(1, Math.floor(USABLE_CORES / instanceCount));
  const instanceOptions = {
    modelPath,
    intraOpThreads,
    interOpThreads: parameterNumber(parsed, 'inter_op_threads') ?? 1,
    allowSpinning: (parameterNumber(parsed, 'allow_spinning') ?? 1) !== 0,
    spinWaitUs: parameterNumber(parsed, 'spin_wait_us') ?? DEFAULT_SPIN_WAIT_US,
    graphOptimizationLevel: parameterNumber(parsed, 'graph_optimization_level') ?? parsed.optimization?.graph?.level,
    executionProviders: executionProviders(parsed),
    handler: typescript
      ? { modelName: options.modelName, version: options.version, config: JSON.parse(JSON.stringify(parsed)) as Record<string, unknown>, declared: declaredSignature(parsed) }
      : undefined,
  };
  const log = logger.child({ model: options.modelName, version: String(options.version) });
  const workerLog = (level: 'info' | 'warn' | 'error', message: string) => log[level](message);

  const defaults = options.defaults ?? DEFAULT_MODEL_DEFAULTS;
  const executeTimeoutMs = parameterNumber(parsed, 'execute_timeout_ms') ?? (typescript ? defaults.handlerExecuteTimeoutMs : undefined);
  // onnxruntime allocates natively, outside the heap: the bound is for handler code.
  const heapLimitMb = parameterNumber(parsed, 'max_heap_mb') ?? (typescript ? defaults.handlerHeapLimitMb : undefined);
  const startInstance = () => RestartingInstance.start(
    (onDeath) => WorkerInstance.start(backend, instanceOptions, workerLog, { callModel: options.callModel, executeTimeoutMs, onDeath, heapLimitMb }),
    workerLog,
  );
  const instances: RestartingInstance[] = [];
  try {
    instances.push(await startInstance());
    const config = completeConfig(parsed, instances[0]!.signature, {
      modelName: options.modelName,
      autoComplete: options.autoComplete,
      defaultMaxBatchSize: options.defaultMaxBatchSize,
      defaultFilename: filename,
    });
    const rest = await Promise.allSettled(Array.from({ length: instanceCount - 1 }, () => startInstance()));
    for (const r of rest) if (r.status === 'fulfilled') instances.push(r.value);
    const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    // Warm before the scheduler exists: nothing can reach these instances until they are warm.
    const warmups = await runWarmup(config, instances, options.modelDir);
    if (warmups > 0) log.debug({ executions: warmups }, 'model warmed up');
    const scheduler = new Scheduler({
      instances,
      maxBatchSize: config.max_batch_size,
      dynamicBatching: config.dynamic_batching,
      defaultMaxQueueSize: queueBound(defaults, instances.length, config.max_batch_size),
      recorder: options.recorder,
    });
    return { config, instances, scheduler };
  } catch (error) {
    await Promise.all(instances.map((i) => i.close()));
    throw VireoError.from(error);
  }
}
