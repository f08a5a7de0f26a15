/**
 * Messages between the main thread and an execution-pool worker (`pool-worker.ts`). One worker
 * hosts many instances ("slots", numbered by the host); every message names its slot. Execute ids
 * are unique per worker, so answers need no slot.
 */
import type { SerializedError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ExecuteContext, InstanceOptions, ModelSignature } from './backend.js';

export interface PoolWorkerInit {
  /** Shared memory of the worker's SharedMailbox (one per worker, whichever slot a call is for). */
  mailbox: SharedArrayBuffer;
  /** Longest an idle worker spins for the next call before parking (µs; 0: never). */
  spinWaitUs: number;
  /**
   * The thread's nice value (0: the process's). The background worker runs at 19, and SCHED_IDLE with
   * it (core/thread-priority.ts), so the kernel gives its CPU to real-time threads the moment they want
   * it; onnxruntime's intra-op threads are created by this thread and inherit both.
   */
  nice?: number;
}

export type PoolHostMessage =
  | { type: 'open'; slot: number; backend: string; options: InstanceOptions }
  | { type: 'execute'; slot: number; id: number; inputs: Tensor[]; outputs: readonly string[]; context?: ExecuteContext }
  | { type: 'close-slot'; slot: number }
  | { type: 'close' };

export type PoolWorkerMessage =
  | { type: 'opened'; slot: number; signature: ModelSignature }
  | { type: 'open-failed'; slot: number; error: SerializedError }
  | { type: 'result'; id: number; outputs: Tensor[]; executeMs: number }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'slot-closed'; slot: number }
  | { type: 'log'; slot: number; level: 'info' | 'warn' | 'error'; message: string };
