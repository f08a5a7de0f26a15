/**
 * The main thread's handle of a shared handler thread (`handler-thread.ts`).
 *
 * Unlike an onnxruntime thread, a handler thread runs only JavaScript and may be terminated at any
 * time. When a call overruns its time bound (`overran`), the thread is pinged first. If it answers,
 * its event loop turns and the call merely never settled: that slot alone fails (its owner restarts
 * it), the thread and its other slots go on. If it does not, handler code blocks it: the slot whose
 * code the thread entered last (shared memory, handler-thread.ts) is the culprit — not necessarily the
 * call whose bound ran out first, which may just be waiting behind it — and the thread is terminated:
 * the culprit's calls fail with a timeout, every other call with `WorkerLost` (safe to run again:
 * inputs are copied to this thread, never moved), and each slot's owner is told through `onLost` to
 * reopen on a new thread.
 * A thread that crashes or exits is attributed the same way: to the slot whose code threw outside a
 * call or called process.exit (the thread reports it, handler-thread.ts), else — a heap bound reached —
 * to the only slot with calls in flight; with several, nobody can tell whose code did it, so all are
 * lost and run again once (a second loss fails them).
 */
import type { Worker } from 'node:worker_threads';
import { endsWithin } from '../../core/ends-within.js';
import { spawnWorkerEntry } from '../../core/esm-bundle.js';
import { VireoError } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import type { ExecuteContext, InstanceOptions, LogFn, ModelCall, ModelSignature } from '../backend.js';
import { WorkerLost } from '../pool-worker-host.js';
import { callFromWire, contextToWire } from '../sequence-id-marker.js';
import { workerResourceLimits } from '../worker-heap.js';
import { fromWire, toWire, transferList, type WireTensor } from '../worker-protocol.js';
import type { HandlerHostMessage, HandlerThreadInit, HandlerThreadMessage } from './handler-thread-protocol.js';

const runningFromSource = import.meta.url.endsWith('.ts');
const THREAD_URL = new URL(runningFromSource ? './handler-thread.ts' : './handler-thread.js', import.meta.url);
/** How long a slot's close (its handler's finalize()) may take, as for a handler's own thread (worker-instance.ts). */
const CLOSE_WAIT_MS = 10_000;
/** How long a thread whose event loop turns takes at most to answer a ping, on a loaded machine. */
const PING_DEADLINE_MS = 500;

export interface CallOutcome { outputs: Tensor[]; ownMs: number }

/** What a slot's owner gives and hears. */
export interface HandlerSlotOwner {
  /** Same for every instance of one model version: a group's instances never share a thread. */
  readonly key: string;
  log: LogFn;
  callModel?: (call: ModelCall) => Promise<Tensor[]>;
  /** The thread ended under this slot for another's reason; its calls in flight failed with WorkerLost. */
  onLost(thread: HandlerThread): void;
  /**
   * This slot's code ended the thread, or a call of it never settled (the thread goes on); its calls
   * in flight failed with `error`. The owner closes the slot and starts another instance.
   */
  onCrash(thread: HandlerThread, error: VireoError): void;
}

interface PendingCall { slot: number; resolve: (outcome: CallOutcome) => void; reject: (error: VireoError) => void; partial?: (outputs: Tensor[]) => void }
interface PendingOpen { resolve: (signature: ModelSignature) => void; reject: (error: VireoError) => void }

export class HandlerThread {
  readonly #worker: Worker;
  readonly #slots = new Map<number, HandlerSlotOwner>();
  readonly #opening = new Map<number, PendingOpen>();
  readonly #closingSlots = new Map<number, () => void>();
  readonly #calls = new Map<number, PendingCall>();
  #nextId = 1;
  #dead = false;
  /** What the thread said ended it, just before it did. */
  #crashed: { slot: number | undefined; reason: string } | undefined;
  readonly #entered = new Int32Array(new SharedArrayBuffer(4));
  /** Slots failed by `#failSlot`, closing: they no longer keep their model version's instances off this thread. */
  readonly #released = new Set<number>();
  /** Slots whose calls overran their bound, by the bound, while a ping is out. */
  readonly #overrun = new Map<number, number>();
  readonly #pongs = new Map<number, () => void>();

  constructor(heapLimitMb: number | undefined) {
    const workerData: HandlerThreadInit = { running: this.#entered.buffer as SharedArrayBuffer };
    this.#worker = spawnWorkerEntry(THREAD_URL, { workerData, resourceLimits: workerResourceLimits(heapLimitMb) });
    this.#worker.on('message', (message: HandlerThreadMessage) => this.#onMessage(message));
    this.#worker.on('error', (error) => this.#die(`instance worker crashed: ${error.message}`));
    this.#worker.on('exit', (code) => this.#die(`instance worker exited (code ${code})`));
  }

  get alive(): boolean {
    return !this.#dead;
  }

  /** Whether a slot of the model version `key` may open here. */
  accepts(key: string): boolean {
    return !this.#dead && ![...this.#slots].some(([slot, owner]) => owner.key === key && !this.#released.has(slot));
  }

  open(slot: number, options: InstanceOptions, owner: HandlerSlotOwner): Promise<ModelSignature> {
    if (this.#dead) return Promise.reject(new WorkerLost('it ended'));
    this.#slots.set(slot, owner);
    this.#worker.ref();
    return new Promise((resolve, reject) => {
      this.#opening.set(slot, { resolve, reject });
      this.#post({ type: 'open', slot, options });
    });
  }

  execute(slot: number, inputs: Tensor[], outputs: readonly string[], context: ExecuteContext | undefined): Promise<CallOutcome> {
    return this.#call(slot, (id) => {
      const wire = toWire(inputs);
      // Only the BYTES packing is new here; the caller's own buffers are copied (a lost call runs again).
      this.#post({ type: 'execute', slot, id, inputs: wire, outputs, context: contextToWire(context) }, packedBuffers(wire));
    });
  }

  executeStream(slot: number, inputs: Tensor[], outputs: readonly string[], context: ExecuteContext | undefined, onResponse: (outputs: Tensor[]) => void, signal: AbortSignal): Promise<CallOutcome> {
    let id = 0;
    const cancel = () => this.#post({ type: 'cancel-stream', id });
    signal.addEventListener('abort', cancel, { once: true });
    return this.#call(slot, (callId) => {
      id = callId;
      this.#post({ type: 'execute-stream', slot, id, inputs, outputs, context: contextToWire(context) });
      if (signal.aborted) cancel();
    }, onResponse).finally(() => signal.removeEventListener('abort', cancel));
  }

  #call(slot: number, send: (id: number) => void, partial?: (outputs: Tensor[]) => void): Promise<CallOutcome> {
    if (this.#dead) return Promise.reject(new WorkerLost('it ended'));
    const id = this.#nextId++;
    return new Promise<CallOutcome>((resolve, reject) => {
      this.#calls.set(id, { slot, resolve, reject, partial });
      send(id);
    });
  }

  /** Closes the slot (the handler's finalize() runs); the last slot out leaves the thread idle for the next handler. */
  async closeSlot(slot: number): Promise<void> {
    if (!this.#slots.has(slot)) return;
    if (!this.#dead) {
      const closed = new Promise<void>((resolve) => this.#closingSlots.set(slot, resolve));
      this.#post({ type: 'close-slot', slot });
      // A finalize() that never ends must hold neither an unload nor a shutdown.
      if (!await endsWithin(closed, CLOSE_WAIT_MS) && !this.#dead) {
        this.#slots.get(slot)?.log('warn', `finalize() did not end within ${CLOSE_WAIT_MS} ms: the handler is dropped`);
        // If it blocks the thread, the thread is replaced and the other handlers reopen on a new one.
        if (!await this.#ping() && !this.#dead) {
          this.#end(slot, new VireoError('VIREO_ERR_WORKER_DIED', 'finalize() blocked the handler thread'));
          void this.#worker.terminate();
        }
      }
    }
    this.#slots.delete(slot);
    this.#closingSlots.delete(slot);
    this.#released.delete(slot);
    // Idle, it holds no exit; a load/unload cycle then reuses it instead of starting another.
    if (this.#slots.size === 0) this.#worker.unref();
  }

  /** A call of `slot` ran past its bound of `limitMs`: see the header. */
  overran(slot: number, limitMs: number): void {
    if (this.#dead) return;
    const probing = this.#overrun.size > 0;
    this.#overrun.set(slot, Math.min(limitMs, this.#overrun.get(slot) ?? limitMs));
    if (probing) return;
    void this.#ping().then((answered) => {
      const overrun = [...this.#overrun];
      this.#overrun.clear();
      if (this.#dead) return;
      if (answered) {
        for (const [late, limit] of overrun) this.#failSlot(late, timedOut(limit));
        return;
      }
      const blocker = Atomics.load(this.#entered, 0);
      const culprit = this.#slots.has(blocker) ? blocker : overrun[0]![0];
      const own = new Map(overrun).get(culprit);
      this.#end(culprit, own !== undefined ? timedOut(own)
        : new VireoError('VIREO_ERR_REQUEST_TIMEOUT', `the model's code held its thread past a request's time bound (${Math.round(overrun[0]![1])} ms); its instance is being restarted`));
      void this.#worker.terminate();
    });
  }

  /** Whether the thread answers a ping within PING_DEADLINE_MS. */
  #ping(): Promise<boolean> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pongs.delete(id);
        resolve(false);
      }, PING_DEADLINE_MS);
      this.#pongs.set(id, () => {
        clearTimeout(timer);
        resolve(true);
      });
      this.#post({ type: 'ping', id });
    });
  }

  /** Fails the calls of `slot` with `error` and tells its owner; the thread goes on. */
  #failSlot(slot: number, error: VireoError): void {
    for (const [id, call] of this.#calls) {
      if (call.slot !== slot) continue;
      this.#calls.delete(id);
      call.reject(error);
    }
    this.#released.add(slot);
    this.#slots.get(slot)?.onCrash(this, error);
  }

  #die(reason: string): void {
    if (this.#dead) return;
    const busy = new Set([...this.#calls.values()].map((call) => call.slot));
    const culprit = this.#crashed ? this.#crashed.slot : busy.size === 1 ? [...busy][0] : undefined;
    this.#end(culprit, new VireoError('VIREO_ERR_WORKER_DIED', this.#crashed ? `instance worker ${this.#crashed.reason}` : reason));
  }

  #end(culprit: number | undefined, error: VireoError): void {
    this.#dead = true;
    const lost = new WorkerLost(culprit === undefined ? error.message : 'another handler on its thread ended it');
    for (const call of this.#calls.values()) call.reject(call.slot === culprit ? error : lost);
    this.#calls.clear();
    for (const pending of this.#opening.values()) pending.reject(lost);
    this.#opening.clear();
    for (const resolve of this.#closingSlots.values()) resolve();
    for (const [slot, owner] of this.#slots) {
      if (this.#closingSlots.has(slot)) continue;
      if (slot === culprit) owner.onCrash(this, error);
      else owner.onLost(this);
    }
  }

  #post(message: HandlerHostMessage, transfer: ArrayBuffer[] = []): void {
    if (this.#dead) return;
    this.#worker.postMessage(message, transfer);
  }

  #onMessage(message: HandlerThreadMessage): void {
    switch (message.type) {
      case 'opened':
      case 'open-failed': {
        const pending = this.#opening.get(message.slot);
        this.#opening.delete(message.slot);
        if (message.type === 'opened') return pending?.resolve(message.signature);
        this.#slots.delete(message.slot);
        if (this.#slots.size === 0) this.#worker.unref();
        return pending?.reject(VireoError.from(message.error));
      }
      case 'slot-closed':
        return this.#closingSlots.get(message.slot)?.();
      case 'pong':
        this.#pongs.get(message.id)?.();
        this.#pongs.delete(message.id);
        return;
      case 'crashed':
        this.#crashed = { slot: message.slot, reason: message.reason };
        return;
      case 'log':
        return this.#slots.get(message.slot)?.log(message.level, message.message);
      case 'call':
        return this.#answerCall(message.slot, message.id, callFromWire(message.call));
      case 'partial':
        return this.#calls.get(message.id)?.partial?.(message.outputs);
      case 'result':
      case 'failed': {
        const call = this.#calls.get(message.id);
        if (!call) return;
        this.#calls.delete(message.id);
        if (message.type === 'result') call.resolve({ outputs: fromWire(message.outputs), ownMs: message.ownMs });
        else call.reject(Object.assign(VireoError.from(message.error), { ownMs: message.ownMs }));
      }
    }
  }

  /** Runs a BLS call on the main thread and posts its outcome back. */
  #answerCall(slot: number, id: number, call: ModelCall): void {
    const callModel = this.#slots.get(slot)?.callModel;
    if (!callModel) {
      this.#post({ type: 'call-failed', id, error: { code: 'VIREO_ERR_UNIMPLEMENTED', message: 'this instance cannot call other models' } });
      return;
    }
    callModel(call).then(
      (outputs) => this.#post({ type: 'call-result', id, outputs }),
      (error) => this.#post({ type: 'call-failed', id, error: VireoError.from(error).toJSON() }),
    );
  }
}

function timedOut(limitMs: number): VireoError {
  return new VireoError('VIREO_ERR_REQUEST_TIMEOUT', `the model did not finish the request within ${Math.round(limitMs)} ms; its instance is being restarted`);
}

/** Buffers `toWire` made itself (BYTES packing): moved, since nobody else holds them. */
function packedBuffers(wire: readonly WireTensor[]): ArrayBuffer[] {
  return transferList(wire.filter((t) => !Array.isArray(t.data) && 'packed' in t.data));
}
