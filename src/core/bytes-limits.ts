/**
 * Bounds on BYTES tensors in one request: how many elements (summed over inputs) and how many
 * bytes they hold together. A BYTES element costs far more than its bytes — an object per element
 * in every layer (wire decoding, the copy to the worker, onnxruntime's strings, the answer) — so a
 * 30 MB message of one-byte elements would otherwise cost gigabytes and minutes. Every decoder
 * checks the count it is about to build against these bounds before allocating anything
 * (gRPC before the message is even decoded, raw/binary and JSON from the shape), and the facade
 * checks the request as a whole.
 *
 * The bounds are process-wide: `vireo serve` sets them once from its options at start.
 */
import { VireoError } from './errors.js';

export interface BytesLimits {
  /** BYTES elements per request, all inputs together (`--max-bytes-elements`). */
  maxElements: number;
  /** Bytes held by BYTES elements per request, all inputs together (`--max-bytes-total`). */
  maxTotalBytes: number;
}

/**
 * 131,072 elements: a request at the bound decodes in tens of milliseconds and costs tens of
 * megabytes; the total matches the default message and body limits (64 MiB).
 */
export const DEFAULT_BYTES_LIMITS: Readonly<BytesLimits> = { maxElements: 131_072, maxTotalBytes: 64 * 1024 * 1024 };

let current: BytesLimits = { ...DEFAULT_BYTES_LIMITS };

export function setBytesLimits(limits: Partial<BytesLimits>): void {
  current = { ...DEFAULT_BYTES_LIMITS, ...limits };
}

export function bytesLimits(): Readonly<BytesLimits> {
  return current;
}

/** Refuses `count` BYTES elements (for `what`) before they are built. */
export function checkBytesElements(count: number, what: string): void {
  if (count > current.maxElements) {
    throw new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', `${what}: ${count} BYTES elements exceed the limit of ${current.maxElements} per request (--max-bytes-elements)`);
  }
}

export function checkBytesTotal(bytes: number, what: string): void {
  if (bytes > current.maxTotalBytes) {
    throw new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', `${what}: BYTES elements of ${bytes} bytes exceed the limit of ${current.maxTotalBytes} per request (--max-bytes-total)`);
  }
}

/** The whole request: every BYTES input's elements and bytes together. */
export function checkBytesRequest(inputs: readonly { datatype: string; data: unknown }[]): void {
  const bytesInputs = inputs.filter((input) => input.datatype === 'BYTES').map((input) => input.data as readonly Uint8Array[]);
  if (bytesInputs.length === 0) return;
  checkBytesElements(bytesInputs.reduce((n, data) => n + data.length, 0), 'the request');
  let bytes = 0;
  for (const data of bytesInputs) for (const e of data) bytes += e.byteLength;
  checkBytesTotal(bytes, 'the request');
}
