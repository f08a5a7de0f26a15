/** Messages between the worker host (main thread) and an instance worker. */
import type { SerializedError } from '../core/errors.js';
import { packBytes, splitPackedBytes, type Tensor } from '../core/tensor.js';
import type { ExecuteContext, InstanceOptions, ModelCall, ModelSignature } from './backend.js';

export interface WorkerInit {
  backend: string;
  options: InstanceOptions;
  /** Shared memory of the instance's SharedMailbox, when execute calls may take that fast path. */
  mailbox?: SharedArrayBuffer;
}

export type HostMessage =
  | { type: 'execute'; id: number; inputs: WireTensor[]; outputs: readonly string[]; context?: ExecuteContext }
  | { type: 'execute-stream'; id: number; inputs: Tensor[]; outputs: readonly string[]; context?: ExecuteContext }
  | { type: 'cancel-stream'; id: number }
  | { type: 'call-result'; id: number; outputs: Tensor[] }
  | { type: 'call-failed'; id: number; error: SerializedError }
  | { type: 'close' };

export type WorkerMessage =
  | { type: 'ready'; signature: ModelSignature }
  | { type: 'init-failed'; error: SerializedError }
  | { type: 'result'; id: number; outputs: WireTensor[] }
  /** One response of a decoupled stream; the stream ends with `result` (no outputs) or `failed`. */
  | { type: 'partial'; id: number; outputs: Tensor[] }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'call'; id: number; call: ModelCall }
  | { type: 'closed' };

/**
 * A tensor as it crosses the port of an execute call: BYTES data packed into one buffer (Triton's
 * length-prefixed framing), which is moved, not cloned. Cloned, BYTES data would cost an object
 * and an ArrayBuffer per element on each side — at 100k elements the garbage collector's time
 * dominated the whole request.
 */
export type WireTensor = Tensor | (Omit<Tensor, 'data'> & { data: { packed: Uint8Array; count: number } });

export function toWire(tensors: readonly Tensor[]): WireTensor[] {
  return tensors.map((t) => (t.datatype === 'BYTES' && Array.isArray(t.data) ? { ...t, data: { packed: packBytes(t.data), count: t.data.length } } : t));
}

export function fromWire(tensors: readonly WireTensor[]): Tensor[] {
  return tensors.map((t) => {
    const data = t.data as Tensor['data'] | { packed: Uint8Array; count: number };
    if (!('packed' in data)) return t as Tensor;
    return { ...t, data: splitPackedBytes(data.packed, data.count, `tensor "${t.name}"`) };
  });
}

/** Buffers that can be moved instead of copied: only those a tensor owns whole. */
export function transferList(tensors: readonly WireTensor[]): ArrayBuffer[] {
  const list: ArrayBuffer[] = [];
  for (const t of tensors) {
    if (Array.isArray(t.data)) continue;
    const data = 'packed' in t.data ? t.data.packed : t.data;
    const buffer = data.buffer;
    if (buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength && !list.includes(buffer)) {
      list.push(buffer);
    }
  }
  return list;
}
