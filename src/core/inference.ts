/** Protocol-neutral request and response types: what frontends build and what they receive. */
import type { DataType } from './datatypes.js';
import type { RequestTrace } from './observability.js';
import type { Tensor } from './tensor.js';

export type ParameterValue = string | number | boolean;
export type Parameters = Record<string, ParameterValue>;

/**
 * Parameters hold an integer beyond ±2^53 as its decimal text, so a uint64 `sequence_id` that large
 * reads like a string id. The frontend that met it as an integer marks the parameters (a symbol key:
 * invisible to entries and JSON), and the sequence batcher takes it as the number it was: 2^53+1 and
 * "9007199254740993" are two sequences, and a UINT64 CORRID control gets the number.
 */
const NUMERIC_SEQUENCE_ID = Symbol('vireo.numericSequenceId');

export function markNumericSequenceId(parameters: Parameters): void {
  (parameters as { [NUMERIC_SEQUENCE_ID]?: boolean })[NUMERIC_SEQUENCE_ID] = true;
}

export function hasNumericSequenceId(parameters: Parameters): boolean {
  return (parameters as { [NUMERIC_SEQUENCE_ID]?: boolean })[NUMERIC_SEQUENCE_ID] === true;
}

export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
}

/**
 * Tells that the caller has gone. An AbortSignal is one; the HTTP frontends pass a lighter one
 * (an AbortController per request cost ≈ 4 % of the HTTP thread on a small model). As with an
 * AbortSignal, a listener added after the abort is never called: check `aborted` first.
 *
 * A signal may outlive the request (one gRPC stream's or batch job's signal serves many requests):
 * whoever adds a listener removes it once its request is answered, or the signal keeps that request
 * (and its inputs) alive until the signal's owner goes.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface InferRequest {
  id?: string;
  model: string;
  /** Absent: the version the model's policy serves (highest ready). */
  version?: string;
  inputs: Tensor[];
  /** Absent or empty: every output of the model. */
  outputs?: RequestedOutput[];
  parameters?: Parameters;
  /** Lower number = higher priority, as in Triton; 0 = the model's default. */
  priority?: number;
  /** Queue timeout in microseconds (Triton's `timeout` parameter); 0 or absent = the model's default. */
  timeoutUs?: number;
  /** Aborted when the client goes away; a request still queued is then dropped. */
  signal?: CancelSignal;
  /** Set by the frontend when the request is traced (see core/observability.ts). */
  trace?: RequestTrace;
  /** Batch-job work: runs only on capacity that real-time requests leave idle (scheduler/). */
  background?: boolean;
}

export interface InferResponse {
  model: string;
  version: string;
  id?: string;
  outputs: Tensor[];
  parameters?: Parameters;
  /** Outputs written into system shared memory (by name, with the parameters to answer): no data in the answer. */
  sharedMemoryOutputs?: Record<string, Parameters>;
}

export interface TensorMetadata {
  name: string;
  datatype: DataType;
  /** -1 for variable dimensions, including the batch dimension when max_batch_size > 0. */
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export type ModelState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

export interface ModelIndexEntry {
  name: string;
  version?: string;
  state?: ModelState;
  reason?: string;
  /** Memory the version took when it loaded (RSS growth, at least its model file per instance). */
  memoryBytes?: number;
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}
