/**
 * The protocol-neutral client API (`vireo/client`): what a caller hands in and gets back, whether the
 * transport is OIP over HTTP (http-client.ts) or over gRPC. Tensors are typed arrays in and out;
 * the client implementations only differ in how they put them on the wire.
 */
import type { DataType, NumericArray } from '../core/datatypes.js';
import type { ModelMetadata, Parameters, ServerMetadata } from '../core/inference.js';

export type { DataType, NumericArray, ModelMetadata, Parameters, ServerMetadata };

/**
 * One input tensor. `data` is row-major: a typed array of the datatype's element type (BOOL as a
 * Uint8Array of 0/1, FP16 and BF16 as a Uint16Array of raw bits, 64-bit integers as BigInt64Array /
 * BigUint64Array), or, for BYTES, one Uint8Array or string (sent as UTF-8) per element.
 */
export interface InferInput {
  name: string;
  datatype: DataType;
  shape: readonly number[];
  data: NumericArray | readonly Uint8Array[] | readonly string[];
  /** HTTP only: overrides the request's `binary` option for this input (mixed JSON and binary). */
  binary?: boolean;
}

/** One output tensor: numeric data as a typed array (as for inputs), BYTES as one Uint8Array per element. */
export interface InferOutput {
  name: string;
  datatype: DataType;
  shape: number[];
  data: NumericArray | Uint8Array[];
}

export interface RequestedOutput {
  name: string;
  /** HTTP only: overrides the request's `binary` option for this output. */
  binary?: boolean;
}

export interface InferOptions {
  /** The model version; absent: the version the server's policy picks. */
  version?: string;
  id?: string;
  /** Outputs to return (default: all of them). */
  outputs?: readonly (string | RequestedOutput)[];
  /**
   * HTTP: send inputs and receive outputs as binary tensor data (Triton's binary_data extension)
   * instead of JSON. Default true, as with Triton's own client.
   */
  binary?: boolean;
  /** HTTP: compress the request body with this coding and accept a response compressed with it. */
  compress?: 'gzip' | 'deflate';
  /** Lower is more urgent (Triton's priority); 0 = the model's default. */
  priority?: number;
  /** Queue timeout in microseconds; 0 = the model's default. */
  timeoutUs?: number;
  /** Extra request parameters, sent as they are. */
  parameters?: Parameters;
  signal?: AbortSignal;
}

export interface InferResult {
  modelName: string;
  modelVersion: string;
  id?: string;
  parameters?: Parameters;
  outputs: InferOutput[];
  /** The output called `name`; throws when the response has none. */
  output(name: string): InferOutput;
}

/** What every Vireo client implements, whatever its transport. `close()` lets in-flight requests finish. */
export interface InferenceClient {
  serverLive(): Promise<boolean>;
  serverReady(): Promise<boolean>;
  serverMetadata(): Promise<ServerMetadata>;
  modelReady(model: string, version?: string): Promise<boolean>;
  modelMetadata(model: string, version?: string): Promise<ModelMetadata>;
  infer(model: string, inputs: readonly InferInput[], options?: InferOptions): Promise<InferResult>;
  close(): Promise<void>;
}

/** A request the server refused or could not answer. `status` is the HTTP status or the gRPC status code. */
export class InferenceClientError extends Error {
  readonly status: number;
  readonly protocol: 'http' | 'grpc';

  constructor(message: string, status: number, protocol: 'http' | 'grpc') {
    super(message);
    this.name = 'InferenceClientError';
    this.status = status;
    this.protocol = protocol;
  }
}
