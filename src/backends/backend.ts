/**
 * The backend contract. A backend turns a model file and its options into instances; an instance
 * executes one batch at a time (the scheduler never calls `execute` again before the previous call
 * settled) and owns nothing after it returns: input buffers may be transferred to it and are not
 * read by the caller afterwards; returned tensors belong to the caller. An error fails the whole
 * batch it was raised for and nothing else. Backends know tensors, never requests or the wire.
 */
import type { DataType } from '../core/datatypes.js';
import type { Parameters } from '../core/inference.js';
import type { Tensor } from '../core/tensor.js';

/** What a model file says about itself; dims of -1 are dynamic. */
export interface ModelSignature {
  inputs: SignatureTensor[];
  outputs: SignatureTensor[];
}

export interface SignatureTensor {
  name: string;
  /** Undefined when the backend has a type Vireo cannot represent (named in `rawType`). */
  datatype: DataType | undefined;
  rawType: string;
  dims: number[];
}

export interface InstanceOptions {
  /** Absolute path of the model file (or handler module) of this version. */
  modelPath: string;
  intraOpThreads?: number;
  interOpThreads?: number;
  /** Whether idle onnxruntime pool threads spin between operators (onnxruntime's default: yes). */
  allowSpinning?: boolean;
  /**
   * Whether those threads keep spinning after a run ends, for the next one (onnxruntime's default:
   * yes). No (`session.force_spinning_stop`) keeps spinning within a run only, so a finished run
   * leaves its cores to other work at once — a batch job on a low-priority instance, another model.
   */
  spinBetweenRuns?: boolean;
  graphOptimizationLevel?: number;
  /** Longest an idle instance worker spins for the next call before parking (µs; 0: never). */
  spinWaitUs?: number;
  /** Execution providers to try in order; CPU is always the last resort. */
  executionProviders: string[];
  /** For code backends (typescript): what the handler's initialize() is given. */
  handler?: HandlerOptions;
}

export interface HandlerOptions {
  modelName: string;
  version: number;
  /** The model's configuration as parsed (plain JSON). */
  config: Record<string, unknown>;
  /** Signature declared by the configuration, used when the module exports none. */
  declared?: ModelSignature;
  /** The module compiled by the host (handler/handler-bundle.ts), as a `data:` URL; absent: the worker loads modelPath itself. */
  compiled?: string;
}

/** What the scheduler knows about a batch beyond its tensors. */
export interface ExecuteContext {
  /** Rows each request contributes, in order (their sum is dim 0 of every input when batching). */
  items: number[];
  /** Each request's own parameters, in the same order. */
  parameters?: (Parameters | undefined)[];
  /** Longest the batch may run before its requests time out (absent: no bound). */
  timeoutMs?: number;
}

/**
 * How long one call may run: the tighter of its batch's own timeout and the instance's bound on any
 * call (either absent or 0: no bound from it); undefined when neither bounds it.
 */
export function callTimeLimit(context: ExecuteContext | undefined, executeTimeoutMs: number | undefined): number | undefined {
  const own = context?.timeoutMs !== undefined && context.timeoutMs > 0 ? context.timeoutMs : undefined;
  const bound = executeTimeoutMs !== undefined && executeTimeoutMs > 0 ? executeTimeoutMs : undefined;
  if (own === undefined) return bound;
  return bound === undefined ? own : Math.min(own, bound);
}

/** A request from instance code to another model of the repository (Triton's BLS). */
export interface ModelCall {
  model: string;
  version?: string;
  inputs: Tensor[];
  outputs?: string[];
  parameters?: Parameters;
}

/** Services the main thread offers to instance code. */
export interface InstanceHost {
  callModel(call: ModelCall): Promise<Tensor[]>;
}

/**
 * Decoupled models (Triton's model_transaction_policy.decoupled): one request, 0..N responses.
 * `onResponse` is called for each, in order; the promise settles when the model has sent its last
 * one (or failed: responses already sent stay sent). Aborting `signal` asks the model to stop.
 * Several streams may run on one instance at once.
 */
export type StreamExecute = (
  inputs: Tensor[], outputs: readonly string[], context: ExecuteContext | undefined,
  onResponse: (outputs: Tensor[]) => void, signal: AbortSignal,
) => Promise<void>;

export interface ModelInstance {
  readonly signature: ModelSignature;
  /** Runs one batch; `outputs` names the tensors wanted (empty = all). */
  execute(inputs: Tensor[], outputs: readonly string[], context?: ExecuteContext): Promise<Tensor[]>;
  /** Present on instances whose model is decoupled. */
  executeStream?: StreamExecute;
  /** Waits for the running batch, then releases the session and ends the worker. */
  close(): Promise<void>;
}

/** Code that runs inside the worker thread; the host proxies to it. */
export interface InstanceImplementation {
  signature: ModelSignature;
  execute(inputs: Tensor[], outputs: readonly string[], context?: ExecuteContext): Promise<Tensor[]>;
  executeStream?: StreamExecute;
  close(): Promise<void>;
}

export type LogFn = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface BackendModule {
  createInstance(options: InstanceOptions, log: LogFn, host: InstanceHost): Promise<InstanceImplementation>;
}
