/**
 * The backend contract. A backend turns a model file and its options into instances; an instance
 * executes one batch at a time (the scheduler never calls `execute` again before the previous call
 * settled) and owns nothing after it returns: input buffers may be transferred to it and are not
 * read by the caller afterwards; returned tensors belong to the caller. An error fails the whole
 * batch it was raised for and nothing else. Backends know tensors, never requests or the wire.
 */
import type { DataType } from '../core/datatypes.js';
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
  graphOptimizationLevel?: number;
  /** Execution providers to try in order; CPU is always the last resort. */
  executionProviders: string[];
}

export interface ModelInstance {
  readonly signature: ModelSignature;
  /** Runs one batch; `outputs` names the tensors wanted (empty = all). */
  execute(inputs: Tensor[], outputs: readonly string[]): Promise<Tensor[]>;
  /** Waits for the running batch, then releases the session and ends the worker. */
  close(): Promise<void>;
}

/** Code that runs inside the worker thread; the host proxies to it. */
export interface InstanceImplementation {
  signature: ModelSignature;
  execute(inputs: Tensor[], outputs: readonly string[]): Promise<Tensor[]>;
  close(): Promise<void>;
}

export type LogFn = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface BackendModule {
  createInstance(options: InstanceOptions, log: LogFn): Promise<InstanceImplementation>;
}
