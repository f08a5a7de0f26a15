/**
 * Bounds on the shape of one request, beside the BYTES bounds (bytes-limits.ts): the bytes its
 * numeric tensors take (elements × datatype size, per input and all inputs together), how many
 * inputs and outputs it names, the rows and columns of a dataframe body and the parts of an upload.
 * Every decoder checks the size it is about to build — from the shape, before any array exists
 * (json-tensors.ts for every JSON form; the image codec bounds its images by max_batch_size) — and the facade
 * checks the counts of every request, whichever frontend made it.
 *
 * A refusal is VIREO_ERR_REQUEST_TOO_LARGE (HTTP 413, gRPC RESOURCE_EXHAUSTED) naming the limit and
 * the `vireo serve` option that sets it. The bounds are process-wide: `vireo serve` sets them once
 * from its options at start (as it does the BYTES bounds).
 */
import { dataTypeInfo, type DataType } from './datatypes.js';
import { VireoError } from './errors.js';

export interface RequestLimits {
  /** Bytes of one numeric input tensor, elements × datatype size (`--max-tensor-bytes`). */
  maxTensorBytes: number;
  /** Bytes of all numeric input tensors of one request together (`--max-tensor-bytes-total`). */
  maxRequestTensorBytes: number;
  /** Inputs named in one request (`--max-request-inputs`). */
  maxInputs: number;
  /** Outputs asked for in one request (`--max-request-outputs`). */
  maxOutputs: number;
  /** Parameters of one request: its own, its inputs' and its outputs' together (`--max-request-parameters`). */
  maxParameters: number;
  /** Rows of a CSV, Arrow or JSON records/columns body (`--max-dataframe-rows`). */
  maxDataframeRows: number;
  /** Columns of a CSV, Arrow or JSON records/columns body (`--max-dataframe-columns`). */
  maxDataframeColumns: number;
  /** Parts (files and fields) of a multipart/form-data upload (`--http-max-multipart-parts`). */
  maxMultipartParts: number;
}

/**
 * One tensor may be as large as the largest body or message the server takes by default (64 MiB,
 * Triton's --http-max-input-size), a request twice that (tensors read from shared memory are not in
 * the body). 1,024 inputs or outputs is far beyond any model's signature (validation then refuses
 * names the model lacks); 1,024 parameters is far beyond what Triton's and KServe's clients send (a
 * handful), and without a bound a 9.5 MB body of 800,000 parameters took 6 s of the event loop (each
 * was validated, then carried to the instance; `tsx bench/hostile-bodies.ts`). 65,536 rows is beyond
 * any max_batch_size a configuration sets in practice; 2,048 columns covers wide tabular models. An upload fills one
 * BYTES input per part: 32 parts is more than any model has such inputs.
 */
export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = {
  maxTensorBytes: 64 * 1024 * 1024,
  maxRequestTensorBytes: 128 * 1024 * 1024,
  maxInputs: 1024,
  maxOutputs: 1024,
  maxParameters: 1024,
  maxDataframeRows: 65_536,
  maxDataframeColumns: 2048,
  maxMultipartParts: 32,
};

let current: RequestLimits = { ...DEFAULT_REQUEST_LIMITS };

export function setRequestLimits(limits: Partial<RequestLimits>): void {
  const defined = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
  current = { ...DEFAULT_REQUEST_LIMITS, ...defined };
}

export function requestLimits(): Readonly<RequestLimits> {
  return current;
}

const tooLarge = (message: string): never => {
  throw new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', message);
};

/** Bytes a numeric tensor of `count` elements takes (0 for BYTES, bounded by bytes-limits.ts). */
export function tensorBytes(datatype: DataType, count: number): number {
  return count * dataTypeInfo(datatype).size;
}

/** Refuses one input of `bytes` bytes (`what` names it) before it is built. */
export function checkTensorBytes(bytes: number, what: string): void {
  if (bytes > current.maxTensorBytes) {
    tooLarge(`${what}: ${bytes} bytes of tensor data exceed the limit of ${current.maxTensorBytes} bytes per input (--max-tensor-bytes)`);
  }
}

export function checkRequestTensorBytes(bytes: number, what = 'the request'): void {
  if (bytes > current.maxRequestTensorBytes) {
    tooLarge(`${what}: ${bytes} bytes of tensor data in all inputs exceed the limit of ${current.maxRequestTensorBytes} bytes per request (--max-tensor-bytes-total)`);
  }
}

export function checkInputCount(count: number): void {
  if (count > current.maxInputs) tooLarge(`the request names ${count} inputs, more than the limit of ${current.maxInputs} (--max-request-inputs)`);
}

export function checkOutputCount(count: number): void {
  if (count > current.maxOutputs) tooLarge(`the request asks for ${count} outputs, more than the limit of ${current.maxOutputs} (--max-request-outputs)`);
}

/** The parameters of one request (its own, its inputs' and outputs' together), before any is read. */
export function checkParameterCount(count: number): void {
  if (count > current.maxParameters) tooLarge(`the request carries ${count} parameters, more than the limit of ${current.maxParameters} (--max-request-parameters)`);
}

/** A dataframe's rows and columns (`what` names the body), before its cells are read. */
export function checkDataframeSize(rows: number, columns: number, what: string): void {
  if (columns > current.maxDataframeColumns) tooLarge(`${what} has ${columns} columns, more than the limit of ${current.maxDataframeColumns} (--max-dataframe-columns)`);
  if (rows > current.maxDataframeRows) tooLarge(`${what} has ${rows} rows, more than the limit of ${current.maxDataframeRows} (--max-dataframe-rows)`);
}

/**
 * The tensor bytes of one request as a decoder meets its inputs one by one: `admit` checks the
 * input's own bytes and the running total before the decoder allocates the input.
 */
export class TensorBytesBudget {
  #total = 0;

  admit(datatype: DataType, count: number, what: string): void {
    const bytes = tensorBytes(datatype, count);
    checkTensorBytes(bytes, what);
    this.#total += bytes;
    checkRequestTensorBytes(this.#total);
  }
}

/**
 * The whole request as the facade receives it, from any frontend: its inputs and outputs. (Tensor
 * bytes are checked by the decoders, before they allocate; the facade also takes the full batches
 * `vireo batch` assembles in-process, which the per-request byte bounds are not meant for.)
 */
export function checkRequestCounts(request: { inputs: readonly unknown[]; outputs?: readonly unknown[] }): void {
  checkInputCount(request.inputs.length);
  checkOutputCount(request.outputs?.length ?? 0);
}
