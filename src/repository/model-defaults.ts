/**
 * Bounds every model gets unless its configuration says otherwise, so that neither a handler that
 * never returns nor an overload can hold requests without bound (README, "Reliability"):
 *
 * - `handlerExecuteTimeoutMs`: a `typescript` handler model without `parameters.execute_timeout_ms`
 *   has its batches bounded by this (`--handler-execute-timeout-ms`, default 20 s; 0: none). Past
 *   it the batch's requests fail with 504 / DEADLINE_EXCEEDED and the worker is replaced. ONNX
 *   models keep no default: a session cannot hang the way code can.
 * - `handlerHeapLimitMb`: a handler model's worker gets a bounded JavaScript heap (2 GiB unless
 *   `parameters.max_heap_mb` says otherwise): code that allocates without bound ends its worker,
 *   which is replaced, instead of taking the process down.
 * - `maxQueueSize`: the queue bound of a priority level whose configuration sets no queue policy
 *   (`--default-max-queue-size`; `auto` derives it from the model, 0 leaves it unbounded). A
 *   policy written in the configuration (`dynamic_batching.default_queue_policy` or
 *   `priority_queue_policy`) keeps Triton's meaning: its `max_queue_size`, 0 for unbounded.
 * - `spinBetweenRuns`: whether an ONNX model's onnxruntime threads keep spinning after a run for the
 *   next one (onnxruntime's default; `parameters.spin_between_runs` overrides). A server with the
 *   batch API turns it off: real-time threads spinning at normal priority after every run took the
 *   cores a job is meant to use (a job on the MLP got 0.11 of the capacity left over, against 1.14
 *   stopped), while the real-time p50 beside a job rose by ≈ 0.3–0.5 ms and its p99 was no better
 *   spinning (bench/batch-api.ts, designs `own` and `own-spinning`; README, "Batch jobs in the server").
 */
import type { ParsedModelConfig } from './model-config.js';

export interface ModelDefaults {
  handlerExecuteTimeoutMs: number;
  /** V8 heap bound (MB) of a handler model's workers without `parameters.max_heap_mb` (0: V8's default). */
  handlerHeapLimitMb: number;
  maxQueueSize: 'auto' | number;
  spinBetweenRuns: boolean;
  /**
   * ONNX models placed on an execution worker of their own from the start when their configuration
   * sets no `parameters.execution_worker` (instead of `auto`: shared until their calls prove heavy).
   * `vireo batch` names its job's model, which runs without pause for the whole job: starting shared
   * would cost the job its first seconds at one thread, then a second session load.
   */
  dedicatedModels?: readonly string[];
  /**
   * The instances of a model run for throughput rather than latency (`vireo batch --instances`, for
   * its job's model): `count` replaces the configuration's instance_group, each instance with
   * ⌊cores / count⌋ intra-op threads unless `parameters.intra_op_threads` says otherwise; `auto` is
   * one single-threaded instance per core, and leaves a configuration that sets
   * `parameters.intra_op_threads` as it is (see jobInstanceGroup).
   */
  jobInstances?: { model: string; count: number | 'auto' };
  /**
   * ONNX models whose instances each take a second execution while they run one (Scheduler's
   * executionsPerInstance): the worker starts the next batch the moment the last one ends, instead of
   * after its answer has reached the main thread and the scheduler has sent the next. For
   * throughput only: the second batch waits in the worker, so its latency includes the first one's
   * run. `vireo batch` names its job's model (the job's own work on the main thread otherwise left the
   * instances waiting for their next batch ≈ 6 % of the time; README, "Batch pipelines").
   */
  pipelinedModels?: readonly string[];
}

/** Whether the model's instances are plain onnxruntime sessions (not handlers, an ensemble or sequences' state). */
function sessionInstances(parsed: ParsedModelConfig): boolean {
  return parsed.backend !== 'typescript' && parsed.platform !== 'ensemble' && parsed.sequence_batching === undefined;
}

/**
 * Executions each instance of the model takes at once: 2 for a pipelined ONNX model
 * (ModelDefaults.pipelinedModels), else 1. Handler, ensemble and sequence-batched models keep 1:
 * a handler may run its calls concurrently, and a sequence's state needs its order.
 */
export function executionsPerInstance(parsed: ParsedModelConfig, modelName: string, defaults: ModelDefaults): number {
  if (!defaults.pipelinedModels?.includes(modelName) || !sessionInstances(parsed)) return 1;
  if (parsed.model_transaction_policy?.decoupled === true) return 1;
  return 2;
}

/**
 * The configuration the job's model runs with (ModelDefaults.jobInstances); unchanged for other
 * models, for handler, ensemble and sequence-batched models (their instances are not sessions, or
 * hold state) and for GPU instance groups. Why `auto` runs one single-threaded instance per core: a
 * job's own work (parsing rows, building batches, writing parts) runs on the main thread beside
 * inference. With one session of two intra-op threads on two cores, each time that work took a
 * core from one of them, the other waited at the end of the parallel section, so the job lost more
 * than the CPU it used; a single-threaded session only slows itself. Side by side on the MLP of
 * `bench/batch.ts --instances auto,config` (README, "Batch pipelines"): 3,530 against 3,202 rows/s
 * over CSV, +10 %. The cost is one more copy of the weights.
 */
export function jobInstanceGroup(parsed: ParsedModelConfig, modelName: string, defaults: ModelDefaults, cores: number): ParsedModelConfig {
  const wanted = defaults.jobInstances;
  if (!wanted || wanted.model !== modelName) return parsed;
  if (!sessionInstances(parsed)) return parsed;
  if (parsed.instance_group?.some((g) => g.kind === 'KIND_GPU')) return parsed;
  if (wanted.count === 'auto' && (cores < 2 || parsed.parameters?.intra_op_threads !== undefined)) return parsed;
  const count = wanted.count === 'auto' ? cores : wanted.count;
  return { ...parsed, instance_group: [{ count, kind: 'KIND_CPU' }] };
}

/** 20 s: below the default drain timeout (30 s), so a hung handler cannot hold a shutdown. */
export const DEFAULT_MODEL_DEFAULTS: Readonly<ModelDefaults> = { handlerExecuteTimeoutMs: 20_000, handlerHeapLimitMb: 2048, maxQueueSize: 'auto', spinBetweenRuns: true };

/** `auto`: 16 full batches per instance waiting, and never fewer than 256 requests. */
export function queueBound(defaults: ModelDefaults, instances: number, maxBatchSize: number): number {
  if (defaults.maxQueueSize !== 'auto') return defaults.maxQueueSize;
  return Math.max(256, 16 * instances * Math.max(1, maxBatchSize));
}
