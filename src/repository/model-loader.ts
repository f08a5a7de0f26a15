/**
 * Loads one version of one model: starts its instances in worker threads, completes and checks
 * the configuration against the model, and builds its scheduler. On any failure every instance
 * already started is closed again, so a failed load leaks no worker. `model_warmup` runs before
 * the scheduler is built, so a version is warm before it can be READY.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { VireoError } from '../core/errors.js';
import type { ModelInstance } from '../backends/backend.js';
import { WorkerInstance } from '../backends/worker-instance.js';
import type { Logger } from '../logging/logger.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { SchedulerRecorder } from '../scheduler/recorder.js';
import { completeConfig } from './auto-complete.js';
import { parameterNumber, type ModelConfig, type ParsedModelConfig } from './model-config.js';
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

export async function loadVersion(options: LoadVersionOptions): Promise<LoadedVersion> {
  const { parsed, logger } = options;
  const filename = parsed.default_model_filename ?? 'model.onnx';
  const modelPath = join(options.modelDir, String(options.version), filename);
  try {
    const info = await stat(modelPath);
    if (!info.isFile()) throw new Error('not a file');
  } catch {
    throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `model file ${options.version}/${filename} is missing`);
  }
  const instanceCount = (parsed.instance_group ?? [{ count: 1 }]).reduce((sum, g) => sum + (g.count ?? 1), 0);
  const intraOpThreads = parameterNumber(parsed, 'intra_op_threads')
    ?? Math.max(1, Math.floor(availableParallelism() / instanceCount));
  const instanceOptions = {
    modelPath,
    intraOpThreads,
    interOpThreads: parameterNumber(parsed, 'inter_op_threads') ?? 1,
    graphOptimizationLevel: parameterNumber(parsed, 'graph_optimization_level') ?? parsed.optimization?.graph?.level,
    executionProviders: executionProviders(parsed),
  };
  const log = logger.child({ model: options.modelName, version: String(options.version) });
  const workerLog = (level: 'info' | 'warn' | 'error', message: string) => log[level](message);

  const instances: WorkerInstance[] = [];
  try {
    instances.push(await WorkerInstance.start('onnx', instanceOptions, workerLog));
    const config = completeConfig(parsed, instances[0]!.signature, {
      modelName: options.modelName,
      autoComplete: options.autoComplete,
      defaultMaxBatchSize: options.defaultMaxBatchSize,
    });
    const rest = await Promise.allSettled(
      Array.from({ length: instanceCount - 1 }, () => WorkerInstance.start('onnx', instanceOptions, workerLog)),
    );
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
      recorder: options.recorder,
    });
    return { config, instances, scheduler };
  } catch (error) {
    await Promise.all(instances.map((i) => i.close()));
    throw VireoError.from(error);
  }
}
