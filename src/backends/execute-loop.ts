/**
 * The execute path both worker kinds share (instance-worker.ts: one instance; pool-worker.ts:
 * many slots): runs a call and shapes its answer, counts the work running on the event loop, and
 * serves the SharedMailbox.
 *
 * Invariants: an execute never throws out of here — a failure becomes a `{ id, error }` answer
 * carrying a plain `{ code, message }`; while any counted work runs, the mailbox loop parks without
 * blocking the thread (that work needs the event loop); port messages are drained by the loop
 * too, because a parked thread runs no event loop (the host rings the mailbox after each).
 */
import type { MessagePort } from 'node:worker_threads';
import { receiveMessageOnPort } from 'node:worker_threads';
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { SharedMailbox, MailboxRequest, MailboxResponse } from './shared-mailbox.js';
import type { SpinPolicy } from './spin-policy.js';

export interface ExecuteLoopOptions<Message> {
  /** The worker's port to the host (`parentPort`). */
  port: MessagePort;
  /** Runs one call on the instance it names. */
  execute: (request: MailboxRequest) => Promise<Tensor[]>;
  /** Posts an answer over the port: a call that came over the port, or outputs the mailbox cannot hold. */
  postAnswer: (response: MailboxResponse) => void;
  /** Handles a port message the mailbox loop drained. */
  onMessage: (message: Message) => void;
}

export class ExecuteLoop<Message> {
  readonly #options: ExecuteLoopOptions<Message>;
  /** Work running on the event loop (port calls, opens, closes). */
  #inflight = 0;
  #closing = false;

  constructor(options: ExecuteLoopOptions<Message>) {
    this.#options = options;
  }

  /** Runs a call, timed; a failure is answered, never thrown. */
  async answer(request: MailboxRequest): Promise<MailboxResponse> {
    const started = performance.now();
    try {
      const outputs = await this.#options.execute(request);
      return { id: request.id, outputs, executeMs: performance.now() - started };
    } catch (error) {
      return { id: request.id, error: VireoError.from(error).toJSON() };
    }
  }

  /** Runs work on the event loop, counted so the mailbox loop does not block the thread meanwhile. */
  async counted<T>(work: () => Promise<T>): Promise<T> {
    this.#inflight++;
    try {
      return await work();
    } finally {
      this.#inflight--;
    }
  }

  /** A call that came over the port: answered over the port. */
  executeFromPort(request: MailboxRequest): Promise<void> {
    return this.counted(async () => this.#options.postAnswer(await this.answer(request)));
  }

  /** Ends the mailbox loop at its next turn. */
  close(): void {
    this.#closing = true;
  }

  /**
   * Serves the mailbox: parks the thread in Atomics.wait while nothing is running, which wakes far
   * faster than a MessagePort, after a short adaptive spin (spin-policy.ts).
   */
  async serveMailbox(mailbox: SharedMailbox, spin: SpinPolicy): Promise<void> {
    const { port, onMessage } = this.#options;
    while (!this.#closing) {
      const seen = mailbox.doorbell();
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) onMessage(m.message as Message);
      if (this.#closing) break;
      const request = mailbox.take();
      if (request) {
        spin.arrived(performance.now());
        await this.#executeFromMailbox(mailbox, request);
        spin.answered(performance.now());
      } else if (this.#inflight > 0) {
        await mailbox.parkAsync(seen);
      } else {
        mailbox.park(seen, spin.spinMs(mailbox.hostInflightPeak()));
        // Let anything else queued on this thread's event loop (session creation) run now and then.
        if (mailbox.doorbell() === seen) await nextLoopTurn();
      }
    }
  }

  async #executeFromMailbox(mailbox: SharedMailbox, request: MailboxRequest): Promise<void> {
    const response = await this.answer(request);
    if (mailbox.answer(response)) return;
    this.#options.postAnswer(response);
    mailbox.answeredByPort();
  }
}
