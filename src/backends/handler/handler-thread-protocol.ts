/**
 * Messages between the main thread and the shared handler thread (`handler-thread.ts`). One thread
 * hosts the handler instances of many models ("slots", numbered by the host); a message that starts
 * something names its slot. Execute and BLS-call ids are unique per thread, so answers need no slot.
 */
import type { SerializedError } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import type { ExecuteContext, InstanceOptions, ModelCall, ModelSignature } from '../backend.js';
import type { WireTensor } from '../worker-protocol.js';

export interface HandlerThreadInit {
  /**
   * One Int32: the slot whose code the thread entered last (0: none), written by the thread at every
   * callback it enters. When the thread stops answering, it names the handler that blocks it.
   */
  running: SharedArrayBuffer;
}

export type HandlerHostMessage =
  | { type: 'open'; slot: number; options: InstanceOptions }
  | { type: 'execute'; slot: number; id: number; inputs: WireTensor[]; outputs: readonly string[]; context?: ExecuteContext }
  | { type: 'execute-stream'; slot: number; id: number; inputs: Tensor[]; outputs: readonly string[]; context?: ExecuteContext }
  | { type: 'cancel-stream'; id: number }
  | { type: 'call-result'; id: number; outputs: Tensor[] }
  | { type: 'call-failed'; id: number; error: SerializedError }
  | { type: 'close-slot'; slot: number }
  /** Answered with `pong` at once by a thread whose event loop turns (one not blocked by handler code). */
  | { type: 'ping'; id: number };

export type HandlerThreadMessage =
  | { type: 'opened'; slot: number; signature: ModelSignature }
  | { type: 'open-failed'; slot: number; error: SerializedError }
  /** `ownMs`: how long the slot's code held this thread during the call (handler-thread.ts). */
  | { type: 'result'; id: number; outputs: WireTensor[]; ownMs: number }
  | { type: 'partial'; id: number; outputs: Tensor[] }
  | { type: 'failed'; id: number; error: SerializedError; ownMs: number }
  | { type: 'call'; slot: number; id: number; call: ModelCall }
  | { type: 'slot-closed'; slot: number }
  | { type: 'pong'; id: number }
  /** Handler code threw outside any call's promise, or called process.exit: the thread ends next. */
  | { type: 'crashed'; slot: number | undefined; reason: `crashed: ${string}` | `exited ${string}` }
  | { type: 'log'; slot: number; level: 'info' | 'warn' | 'error'; message: string };
