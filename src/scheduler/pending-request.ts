/**
 * A request inside the scheduler. Its state moves PENDING → EXECUTING → RELEASED, or to FAILED
 * from PENDING (timeout, cancel, shutdown) or EXECUTING (backend error), through `transition`,
 * which refuses any other move: a request is answered exactly once.
 */
import { VireoError } from '../core/errors.js';
import type { CancelSignal, Parameters } from '../core/inference.js';
import type { Tensor } from '../core/tensor.js';

export type RequestState = 'PENDING' | 'EXECUTING' | 'RELEASED' | 'FAILED';

const ALLOWED: Record<RequestState, readonly RequestState[]> = {
  PENDING: ['EXECUTING', 'FAILED'],
  EXECUTING: ['RELEASED', 'FAILED'],
  RELEASED: [],
  FAILED: [],
};

export interface ScheduleOptions {
  /** Lower is more urgent; 0 means the model's default level. */
  priority?: number;
  timeoutUs?: number;
  signal?: CancelSignal;
  /** The request's own parameters, handed to backends that run model code. */
  parameters?: Parameters;
  /** An opaque trace handle handed back to the recorder with the batch the request ran in. */
  trace?: unknown;
  /**
   * Batch-job work (the OpenAI-style batch API): queued behind every priority level the model
   * configures, so it only runs on capacity real-time requests leave idle.
   */
  background?: boolean;
}

export class PendingRequest {
  state: RequestState = 'PENDING';
  /** Priority level index into the scheduler's queues (0 = most urgent). */
  level = 0;
  deadlineNs = Infinity;
  /** Triton's DELAY timeout action: expired requests go behind everything else instead of failing. */
  delayed = false;
  parameters: Parameters | undefined;
  readonly arrivalNs: number;
  queueNs = 0;
  trace: unknown = undefined;
  readonly #resolve: (outputs: Tensor[]) => void;
  readonly #reject: (error: VireoError) => void;
  #onAbort: (() => void) | undefined;

  constructor(
    readonly inputs: readonly Tensor[],
    readonly outputs: readonly string[],
    /** Items this request contributes to a batch (its own dim 0, or 1 without a batch dimension). */
    readonly items: number,
    /** Requests share a batch only when these match: non-batch dims of every input and the outputs asked for. */
    readonly compatibilityKey: string,
    readonly signal: CancelSignal | undefined,
    arrivalNs: number,
    resolve: (outputs: Tensor[]) => void,
    reject: (error: VireoError) => void,
  ) {
    this.arrivalNs = arrivalNs;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  transition(next: RequestState): void {
    if (!ALLOWED[this.state].includes(next)) {
      throw new VireoError('VIREO_ERR_INTERNAL', `illegal request state change ${this.state} → ${next}`);
    }
    this.state = next;
  }

  /**
   * Calls `listener` if the signal aborts while the request is unanswered. The listener is removed
   * when the request is answered: a signal shared by many requests (a gRPC stream's, a batch job's)
   * would otherwise hold every answered request, and its inputs, until the signal itself goes.
   */
  onAbort(listener: () => void): void {
    if (!this.signal) return;
    this.#onAbort = listener;
    this.signal.addEventListener('abort', listener, { once: true });
  }

  release(outputs: Tensor[]): void {
    this.transition('RELEASED');
    this.#unlisten();
    this.#resolve(outputs);
  }

  fail(error: VireoError): void {
    this.transition('FAILED');
    this.#unlisten();
    this.#reject(error);
  }

  #unlisten(): void {
    if (this.#onAbort) this.signal?.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
  }
}

export function compatibilityKey(inputs: readonly Tensor[], outputs: readonly string[]): string {
  let key = outputs.join(',');
  for (const t of inputs) key += `|${t.name}:${t.shape.slice(1).join('x')}`;
  return key;
}
