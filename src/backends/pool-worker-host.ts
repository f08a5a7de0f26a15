/**
 * The main thread's handle of one execution-pool worker thread (`pool-worker.ts`): opens and
 * closes slots in it, sends calls (through the worker's SharedMailbox when it is free, else over
 * the port, ringing the mailbox after every port message) and settles their answers.
 *
 * A thread running onnxruntime is never terminated: ending a thread inside a native run aborts the
 * whole process (onnxruntime-node throws a C++ exception it cannot deliver). When one slot's call
 * overruns its time bound, `abandon` gives the thread up instead: it takes no new slots, every call
 * still waiting fails at once — the culprit's with the error given, the others' with `WorkerLost`,
 * which tells their instances that they did nothing wrong and may run the call again elsewhere
 * (inputs sent to a shared worker are copied, never moved, so they are intact) — and each slot's
 * owner is told through `onLost`. Once the last slot has closed the thread ends by itself after
 * the run. It stays referenced meanwhile: a process that exits while the run goes on aborts, so a
 * natural exit waits for it (a native run is finite; `vireo serve` waits too, bounded by its drain
 * timeout: test/e2e/drain.test.ts). A thread that crashes fails its calls the same way.
 */
import { Worker } from 'node:worker_threads';
import { VireoError } from '../core/errors.js';
import { processInflight } from '../core/inflight-requests.js';
import type { Tensor } from '../core/tensor.js';
import type { ExecuteContext, InstanceOptions, LogFn, ModelSignature } from './backend.js';
import { spawnWorkerEntry } from '../core/esm-bundle.js';
import { workerResourceLimits } from './worker-heap.js';
import { SharedMailbox } from './shared-mailbox.js';
import type { PoolHostMessage, PoolWorkerInit, PoolWorkerMessage } from './pool-protocol.js';
import { transferList } from './worker-protocol.js';

const runningFromSource = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(runningFromSource ? './pool-worker.ts' : './pool-worker.js', import.meta.url);

function spawn(workerData: PoolWorkerInit): Worker {
  return spawnWorkerEntry(WORKER_URL, { workerData, resourceLimits: workerResourceLimits() });
}

/** A call lost because its worker died for another slot's reason (or crashed): safe to run again. */
export class WorkerLost extends VireoError {
  constructor(reason: string) {
    super('VIREO_ERR_WORKER_DIED', `the execution worker was lost (${reason})`);
  }
}

export interface CallOutcome { outputs: Tensor[]; executeMs: number }

/** What a slot's owner hears from its worker. */
export interface SlotOwner {
  log: LogFn;
  /** The thread ended other than by closing; calls in flight have been failed already. */
  onLost(worker: PoolWorker): void;
}

interface PendingCall { slot: number; resolve: (outcome: CallOutcome) => void; reject: (error: VireoError) => void }
interface PendingOpen { resolve: (signature: ModelSignature) => void; reject: (error: VireoError) => void }

export class PoolWorker {
  /** Hosts one slot only, and moves tensors instead of copying them. */
  readonly dedicated: boolean;
  readonly #worker: Worker;
  readonly #mailbox = new SharedMailbox();
  readonly #slots = new Map<number, SlotOwner>();
  readonly #opening = new Map<number, PendingOpen>();
  readonly #closingSlots = new Map<number, () => void>();
  readonly #calls = new Map<number, PendingCall>();
  readonly #exited: Promise<void>;
  #nextId = 1;
  #dead: VireoError | undefined;
  /** Given up after an overrun: takes no new slots, ends once its slots are closed. */
  #abandoned = false;
  #closeSent = false;

  constructor(options: { dedicated: boolean; spinWaitUs: number; nice?: number }) {
    this.dedicated = options.dedicated;
    this.#worker = spawn({ mailbox: this.#mailbox.buffer, spinWaitUs: options.spinWaitUs, nice: options.nice });
    this.#worker.on('message', (message: PoolWorkerMessage) => this.#onMessage(message));
    this.#worker.on('error', (error) => this.#die(`it crashed: ${error.message}`));
    this.#exited = new Promise((resolve) => this.#worker.once('exit', (code) => {
      this.#die(`it exited with code ${code}`);
      resolve();
    }));
  }

  /** Slots open or opening. */
  get slotCount(): number {
    return this.#slots.size;
  }

  /** Calls sent and not yet answered. */
  get callsInFlight(): number {
    return this.#calls.size;
  }

  /** Whether new slots may be placed here. */
  get accepting(): boolean {
    return !this.#dead && !this.#abandoned && !this.#closeSent && (!this.dedicated || this.#slots.size === 0);
  }

  get alive(): boolean {
    return !this.#dead;
  }

  open(slot: number, backend: string, options: InstanceOptions, owner: SlotOwner): Promise<ModelSignature> {
    if (!this.accepting) return Promise.reject(new WorkerLost('it no longer accepts instances'));
    this.#slots.set(slot, owner);
    this.#worker.ref();
    return new Promise((resolve, reject) => {
      this.#opening.set(slot, { resolve, reject });
      this.#post({ type: 'open', slot, backend, options });
    });
  }

  execute(slot: number, inputs: Tensor[], outputs: readonly string[], context: ExecuteContext | undefined, spinMs: number): Promise<CallOutcome> {
    if (this.#dead) return Promise.reject(this.#dead);
    if (this.#abandoned) return Promise.reject(new WorkerLost('it was given up after an overrun'));
    const id = this.#nextId++;
    return new Promise<CallOutcome>((resolve, reject) => {
      this.#calls.set(id, { slot, resolve, reject });
      if (this.#mailbox.trySend({ id, slot, inputs, outputs, context }, processInflight.recentPeak())) {
        void this.#mailbox.receive(spinMs, () => this.#dead !== undefined).then((response) => {
          if (!response) return; // answered over the port, or the worker is gone
          if ('error' in response) this.#settle({ type: 'failed', id: response.id, error: response.error });
          else this.#settle({ type: 'result', id: response.id, outputs: response.outputs, executeMs: response.executeMs ?? 0 });
        });
      } else {
        // A shared worker gets copies, so a call lost with another slot's worker can run again.
        this.#post({ type: 'execute', slot, id, inputs, outputs, context }, this.dedicated ? transferList(inputs) : []);
      }
    });
  }

  /**
   * Releases the slot's session once the worker confirms. The last slot out ends an abandoned
   * thread; any other stays for the next instance (unreferenced, so it holds no exit; the pool
   * bounds how many idle ones it keeps): load/unload cycles then reuse a thread and its malloc arena
   * instead of starting a new one each time.
   */
  async closeSlot(slot: number): Promise<void> {
    if (!this.#slots.has(slot)) return;
    if (!this.#dead) {
      const closed = new Promise<void>((resolve) => this.#closingSlots.set(slot, resolve));
      this.#post({ type: 'close-slot', slot });
      // An abandoned thread confirms only after the run it is stuck in: nobody waits for that.
      if (!this.#abandoned) await Promise.race([closed, this.#exited]);
    }
    this.#slots.delete(slot);
    this.#closingSlots.delete(slot);
    if (this.#slots.size > 0) return;
    if (this.#abandoned) await this.retire();
    else this.#worker.unref();
  }

  /** Gives the thread up (a call of `slot` overran its bound): see the header. */
  abandon(slot: number, error: VireoError): void {
    if (this.#dead || this.#abandoned) return;
    this.#abandoned = true;
    this.#failAll(slot, error, new WorkerLost('another instance on it overran its time bound'));
    for (const [other, owner] of this.#slots) if (other !== slot) owner.onLost(this);
  }

  /** Ends the thread once its slots are closed (an idle thread the pool no longer keeps). */
  async retire(): Promise<void> {
    if (this.#closeSent || this.#dead) return this.#exited;
    this.#closeSent = true;
    this.#post({ type: 'close' });
    // An abandoned thread ends when its stuck run does: nobody waits for it here, but it stays
    // referenced, so the process does not exit (and abort) inside that run.
    if (!this.#abandoned) await this.#exited;
  }

  #failAll(culprit: number | undefined, culpritError: VireoError | undefined, error: VireoError): void {
    for (const call of this.#calls.values()) call.reject(call.slot === culprit ? culpritError! : error);
    this.#calls.clear();
    for (const pending of this.#opening.values()) pending.reject(error);
    this.#opening.clear();
  }

  #post(message: PoolHostMessage, transfer: ArrayBuffer[] = []): void {
    this.#worker.postMessage(message, transfer);
    this.#mailbox.ring();
  }

  #onMessage(message: PoolWorkerMessage): void {
    switch (message.type) {
      case 'opened':
      case 'open-failed': {
        const pending = this.#opening.get(message.slot);
        this.#opening.delete(message.slot);
        if (message.type === 'opened') pending?.resolve(message.signature);
        else {
          this.#slots.delete(message.slot);
          pending?.reject(VireoError.from(message.error));
          if (this.#slots.size === 0) this.#worker.unref();
        }
        return;
      }
      case 'slot-closed':
        this.#closingSlots.get(message.slot)?.();
        return;
      case 'log':
        this.#slots.get(message.slot)?.log(message.level, message.message);
        return;
      default:
        this.#settle(message);
    }
  }

  #settle(message: Extract<PoolWorkerMessage, { type: 'result' | 'failed' }>): void {
    const call = this.#calls.get(message.id);
    if (!call) return;
    this.#calls.delete(message.id);
    if (message.type === 'result') call.resolve({ outputs: message.outputs, executeMs: message.executeMs });
    else call.reject(VireoError.from(message.error));
  }

  #die(reason: string): void {
    if (this.#dead) return;
    this.#dead = new WorkerLost(reason);
    this.#failAll(undefined, undefined, this.#dead);
    for (const resolve of this.#closingSlots.values()) resolve();
    if (this.#closeSent || this.#abandoned) return;
    for (const owner of this.#slots.values()) owner.onLost(this);
  }
}
