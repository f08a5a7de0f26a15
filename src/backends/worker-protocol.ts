/** Messages between the worker host (main thread) and an instance worker. */
import type { SerializedError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ExecuteContext, InstanceOptions, ModelCall, ModelSignature } from './backend.js';

export interface WorkerInit {
  backend: string;
  options: InstanceOptions;
  /** Shared memory of the instance's SharedMailbox, when execute calls may take that fast path. */
  mailbox?: SharedArrayBuffer;
}

export type HostMessage =
  | { type: 'execute'; id: number; inputs: Tensor[]; outputs: readonly string[]; context?: ExecuteContext }
  | { type: 'execute-stream'; id: number; inputs: Tensor[]; outputs: readonly string[]; context?: ExecuteContext }
  | { type: 'cancel-stream'; id: number }
  | { type: 'call-result'; id: number; outputs: Tensor[] }
  | { type: 'call-failed'; id: number; error: SerializedError }
  | { type: 'close' };

export type WorkerMessage =
  | { type: 'ready'; signature: ModelSignature }
  | { type: 'init-failed'; error: SerializedError }
  | { type: 'result'; id: number; outputs: Tensor[] }
  /** One response of a decoupled stream; the stream ends with `result` (no outputs) or `failed`. */
  | { type: 'partial'; id: number; outputs: Tensor[] }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'call'; id: number; call: ModelCall }
  | { type: 'closed' };

/** Buffers that can be moved instead of copied: only those a tensor owns whole. */
export function transferList(tensors: readonly Tensor[]): ArrayBuffer[] {
  const list: ArrayBuffer[] = [];
  for (const t of tensors) {
    if (Array.isArray(t.data)) continue;
    const buffer = t.data.buffer;
    if (buffer instanceof ArrayBuffer && t.data.byteOffset === 0 && t.data.byteLength === buffer.byteLength && !list.includes(buffer)) {
      list.push(buffer);
    }
  }
  return list;
}
