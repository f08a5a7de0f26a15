/**
 * The contract of a custom TypeScript model (`backend: typescript`): what `<version>/model.ts` (or
 * model.js) exports and what it is given. Handler authors import these types only
 * (`import type { ... } from 'vireo/handler'` once built, or this file from source).
 */
import type { DataType } from '../../core/datatypes.js';
import type { Parameters } from '../../core/inference.js';
import type { Tensor } from '../../core/tensor.js';

export type { Tensor, DataType, Parameters };

/**
 * A tensor as a handler may return it: data as a typed array, a plain array of numbers, or (BYTES)
 * an array of strings or Uint8Arrays. `datatype` defaults to the output's declared type and
 * `shape` to `[data.length]` (with the batch dimension when the model batches: `[1, n]`).
 */
export interface TensorLike {
  datatype?: DataType;
  shape?: readonly number[];
  data: Tensor['data'] | readonly number[] | readonly string[] | readonly bigint[];
}

/** One request of a batch: its own inputs (with their batch dimension), outputs asked for, parameters. */
export interface HandlerRequest {
  inputs: Record<string, Tensor>;
  /** Outputs the client asked for; empty means all. */
  requestedOutputs: string[];
  parameters: Parameters;
}

/** One response per request, in the order of the requests. */
export interface HandlerResponse {
  outputs: Record<string, TensorLike>;
}

export interface HandlerLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface InferOptions {
  version?: string;
  /** Outputs wanted (default: all). */
  outputs?: string[];
  parameters?: Parameters;
}

export interface HandlerContext {
  modelName: string;
  version: number;
  /** The model's configuration as written (parsed from config.yaml). */
  config: Record<string, unknown>;
  /** Absolute paths: `<repository>/<model>` and `<repository>/<model>/<version>`. */
  modelDir: string;
  versionDir: string;
  logger: HandlerLogger;
  /**
   * Calls another model of the repository through its scheduler (Triton's BLS). Shapes include the
   * batch dimension when that model batches. Resolves with its outputs by name.
   */
  infer(model: string, inputs: Record<string, TensorLike>, options?: InferOptions): Promise<Record<string, Tensor>>;
}

/** What a decoupled model's `stream` is given besides its request. */
export interface StreamContext {
  /** Aborted when the client goes away (or the stream is cancelled): stop producing. */
  signal: AbortSignal;
}

/**
 * What the module may export; `execute` is required, except for a decoupled model
 * (`model_transaction_policy: { decoupled: true }`), which exports `stream` instead: one request in,
 * any number of responses out (an async generator yields them as they are ready; returning ends
 * the stream; throwing ends it with an error after the responses already yielded).
 */
export interface HandlerModule {
  stream?(request: HandlerRequest, context: StreamContext): AsyncIterable<HandlerResponse> | Iterable<HandlerResponse>;
  signature?: {
    inputs: { name: string; datatype: DataType; dims: number[] }[];
    outputs: { name: string; datatype: DataType; dims: number[] }[];
  };
  initialize?(context: HandlerContext): unknown;
  execute?(requests: HandlerRequest[]): HandlerResponse[] | Promise<HandlerResponse[]>;
  finalize?(): unknown;
}
