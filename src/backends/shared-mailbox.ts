/**
 * A one-slot request/response mailbox in shared memory between the main thread and one instance
 * worker. A MessagePort round trip costs ~65 µs here (structured clone, queue locks, event
 * dispatch on both sides); writing into shared memory and waking a thread parked in Atomics.wait
 * costs ~15 µs, which is most of Vireo's overhead on a small model at concurrency 1.
 *
 * Only numeric tensors that fit go through it; anything else (BYTES, large batches, a second
 * concurrent call) takes the MessagePort path, so the mailbox is a fast path, never a limit.
 *
 * Control words (Int32): DOORBELL counts every host→worker signal (mailbox requests and port
 * messages), so a parked worker wakes for both; REQUEST and RESPONSE hold the slot states.
 */
import type { SerializedError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ExecuteContext } from './backend.js';
import { FrameCodec } from './mailbox-frame.js';

const DOORBELL = 0;
const REQUEST = 1;
const RESPONSE = 2;
/** The host's recent peak of requests in flight, as of its last request (see spin-policy.ts). */
const HOST_INFLIGHT = 3;
const CONTROL_BYTES = 16;
/** An answer names no outputs (and an error carries no tensors): one empty array for all of them. */
const NONE: readonly never[] = [];

const enum Slot { Free = 0, Ready = 1, Taken = 2 }
/** RESPONSE states: the answer is in the mailbox, or it went over the port (too large). */
const enum Answer { None = 0, InMailbox = 1, Posted = 2 }

/** Bytes per direction: single items and typical batches of small models fit. */
export const DEFAULT_MAILBOX_BYTES = 1 << 20;

/** `slot`: which of a pool worker's instances runs the call (absent in a one-instance worker). */
export interface MailboxRequest { id: number; slot?: number; outputs: readonly string[]; context?: ExecuteContext; inputs: Tensor[] }
/** `executeMs`: how long the call ran in the worker (feeds the host's decision to wait synchronously). */
export type MailboxResponse = ({ id: number; outputs: Tensor[] } | { id: number; error: SerializedError }) & { executeMs?: number };

export class SharedMailbox {
  readonly buffer: SharedArrayBuffer;
  readonly #control: Int32Array;
  readonly #frames: FrameCodec;
  readonly #capacity: number;

  constructor(buffer: SharedArrayBuffer | number = DEFAULT_MAILBOX_BYTES) {
    this.buffer = typeof buffer === 'number' ? new SharedArrayBuffer(CONTROL_BYTES + 2 * buffer) : buffer;
    this.#control = new Int32Array(this.buffer, 0, CONTROL_BYTES / 4);
    this.#frames = new FrameCodec(this.buffer);
    this.#capacity = (this.buffer.byteLength - CONTROL_BYTES) / 2;
  }

  // ---- host side ----

  /** Writes the request and wakes the worker; false (nothing written) when it cannot go this way. */
  trySend(request: MailboxRequest, hostInflightPeak = 0): boolean {
    if (Atomics.load(this.#control, REQUEST) !== Slot.Free) return false;
    Atomics.store(this.#control, HOST_INFLIGHT, hostInflightPeak);
    const { id, slot, outputs, context, inputs } = request;
    if (!this.#frames.write(CONTROL_BYTES, CONTROL_BYTES + this.#capacity, { id, slot, outputs, json: context, tensors: inputs })) return false;
    Atomics.store(this.#control, RESPONSE, Answer.None);
    Atomics.store(this.#control, REQUEST, Slot.Ready);
    this.ring();
    return true;
  }

  /**
   * Resolves with the worker's answer, or undefined when it was posted over the port instead or
   * the worker is `gone` (its caller has been told already). With `spinMs`, first polls for that
   * long on this thread (see AnswerSpin).
   */
  async receive(spinMs = 0, gone: () => boolean = () => false): Promise<MailboxResponse | undefined> {
    if (spinMs > 0) {
      const until = performance.now() + spinMs;
      while (Atomics.load(this.#control, RESPONSE) === Answer.None && performance.now() < until);
    }
    // Bounded waits, re-checked: a lost wake-up would cost at most a second, never the answer.
    while (Atomics.load(this.#control, RESPONSE) === Answer.None) {
      if (gone()) return undefined;
      const waiting = Atomics.waitAsync(this.#control, RESPONSE, Answer.None, 1000);
      if (waiting.async) await waiting.value;
    }
    const answer = Atomics.load(this.#control, RESPONSE);
    let response: MailboxResponse | undefined;
    if (answer === Answer.InMailbox) {
      const { id, executeMs, json, tensors } = this.#frames.read(CONTROL_BYTES + this.#capacity);
      response = json !== undefined ? { id, executeMs, error: json as SerializedError } : { id, executeMs, outputs: tensors };
    }
    Atomics.store(this.#control, RESPONSE, Answer.None);
    Atomics.store(this.#control, REQUEST, Slot.Free);
    return response;
  }

  /** Wakes the worker: after a mailbox request, and after every port message (it may be parked). */
  ring(): void {
    Atomics.add(this.#control, DOORBELL, 1);
    Atomics.notify(this.#control, DOORBELL);
  }

  // ---- worker side ----

  hostInflightPeak(): number {
    return Atomics.load(this.#control, HOST_INFLIGHT);
  }

  doorbell(): number {
    return Atomics.load(this.#control, DOORBELL);
  }

  /** Spins, then parks the thread until the doorbell moves past `seen` (bounded, so termination is never stuck). */
  park(seen: number, spinMs = 0): void {
    if (spinMs > 0) {
      const until = performance.now() + spinMs;
      while (performance.now() < until) if (Atomics.load(this.#control, DOORBELL) !== seen) return;
    }
    Atomics.wait(this.#control, DOORBELL, seen, 1000);
  }

  /** Waits for the doorbell without blocking the thread (while other work runs on its event loop). */
  async parkAsync(seen: number): Promise<void> {
    const waiting = Atomics.waitAsync(this.#control, DOORBELL, seen, 1000);
    if (waiting.async) await waiting.value;
  }

  take(): MailboxRequest | undefined {
    if (Atomics.load(this.#control, REQUEST) !== Slot.Ready) return undefined;
    Atomics.store(this.#control, REQUEST, Slot.Taken);
    const { id, slot, outputs, json, tensors } = this.#frames.read(CONTROL_BYTES);
    const request: MailboxRequest = { id, outputs, inputs: tensors };
    if (slot !== undefined) request.slot = slot;
    if (json !== undefined) request.context = json as ExecuteContext;
    return request;
  }

  /** Answers in the mailbox; false when the outputs do not fit (the caller posts them instead). */
  answer(response: MailboxResponse): boolean {
    const frame = 'outputs' in response
      ? { id: response.id, executeMs: response.executeMs, outputs: NONE, tensors: response.outputs }
      : { id: response.id, executeMs: response.executeMs, outputs: NONE, json: response.error, tensors: NONE };
    if (!this.#frames.write(CONTROL_BYTES + this.#capacity, CONTROL_BYTES + 2 * this.#capacity, frame)) return false;
    this.#respond(Answer.InMailbox);
    return true;
  }

  /** Tells the host the answer went over the port. */
  answeredByPort(): void {
    this.#respond(Answer.Posted);
  }

  #respond(answer: Answer): void {
    Atomics.store(this.#control, RESPONSE, answer);
    Atomics.notify(this.#control, RESPONSE);
  }
}
