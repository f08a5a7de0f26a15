/**
 * A handler instance (`typescript` backend) in a slot of the shared handler thread
 * (handler-thread-host.ts), instead of a thread of its own.
 *
 * Where it runs: it starts on the shared thread; once its calls prove heavy — a running mean of their
 * own time (how long its code held the thread, not what it awaited) above HEAVY_EXECUTE_MS, the rule ONNX instances
 * follow (heavy-calls.ts) — it moves to a worker of its own (worker-instance.ts), adopted between
 * two calls, so a handler that computes never holds up the light handlers beside it for more than a
 * few calls. Handler code is compiled once (handler-bundle.ts) and every reopen runs that same code.
 *
 * Failure: when this handler's code blocks the shared thread past a call's time bound, or ends the
 * thread (an uncaught exception, process.exit, its heap bound), the thread is replaced; this instance
 * dies (its owner, RestartingInstance, starts another) and its calls fail. A call of its that never
 * settles fails alone at its bound and the instance is replaced the same way, the thread going on. An
 * instance that merely shared a replaced thread reopens on a new one — its handler's initialize() runs
 * again — and runs its lost call again, once.
 */
import { VireoError } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import { callTimeLimit, type ExecuteContext, type InstanceOptions, type LogFn, type ModelCall, type ModelInstance, type ModelSignature } from '../backend.js';
import { WorkerLost } from '../pool-worker-host.js';
import { HeavyCalls } from '../heavy-calls.js';
import { WorkerInstance } from '../worker-instance.js';
import type { CallOutcome, HandlerSlotOwner, HandlerThread } from './handler-thread-host.js';
import type { HandlerThreads } from './open-handler.js';

export interface SharedHandlerSpec {
  /** Same for every instance of one model version. */
  key: string;
  /** With the handler compiled (`handler.compiled`). */
  options: InstanceOptions;
  /** `auto`: move to a thread of its own when heavy; `shared`: never. */
  placement: 'auto' | 'shared';
  log: LogFn;
  callModel?: (call: ModelCall) => Promise<Tensor[]>;
  /** Upper bound on one call, whatever the requests' own timeouts (0: none). */
  executeTimeoutMs?: number;
  /** The shared thread's heap bound (MB), and a moved instance's. */
  heapLimitMb?: number;
  /** Told once when this instance dies. */
  onDeath?: (error: VireoError) => void;
}

/** A slot and the calls running in it; a retired slot (moved away from, or lost) closes once they end. */
interface Home { thread: HandlerThread; slot: number; inFlight: number; retired: boolean }

export class SharedHandlerInstance implements ModelInstance, HandlerSlotOwner {
  signature!: ModelSignature;
  readonly key: string;
  readonly log: LogFn;
  readonly callModel?: (call: ModelCall) => Promise<Tensor[]>;
  readonly #threads: HandlerThreads;
  readonly #spec: SharedHandlerSpec;
  #home!: Home;
  #moved: WorkerInstance | undefined;
  #move: Promise<WorkerInstance | undefined> | undefined;
  #ready: WorkerInstance | undefined;
  #rehoming: Promise<void> | undefined;
  readonly #heavy = new HeavyCalls();
  #dead: VireoError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(threads: HandlerThreads, spec: SharedHandlerSpec) {
    this.#threads = threads;
    this.#spec = spec;
    this.key = spec.key;
    this.log = spec.log;
    this.callModel = spec.callModel;
  }

  /** A slot on the shared thread; undefined when it already hosts an instance of this version (a group's). */
  static async open(threads: HandlerThreads, spec: SharedHandlerSpec): Promise<SharedHandlerInstance | undefined> {
    const instance = new SharedHandlerInstance(threads, spec);
    const home = await instance.#openSlot();
    if (!home) return undefined;
    instance.#home = home;
    return instance;
  }

  get alive(): boolean {
    return this.#dead === undefined && (this.#moved?.alive ?? true);
  }

  /** Whether the instance has moved to a thread of its own. */
  get dedicated(): boolean {
    return this.#moved !== undefined;
  }

  async execute(inputs: Tensor[], outputs: readonly string[], context?: ExecuteContext): Promise<Tensor[]> {
    const outcome = await this.#run((home) => home.thread.execute(home.slot, inputs, outputs, context), context,
      (moved) => moved.execute(inputs, outputs, context).then((tensors) => ({ outputs: tensors })));
    return outcome.outputs;
  }

  async executeStream(inputs: Tensor[], outputs: readonly string[], context: ExecuteContext | undefined, onResponse: (outputs: Tensor[]) => void, signal: AbortSignal): Promise<void> {
    let answered = false;
    const respond = (tensors: Tensor[]) => {
      answered = true;
      onResponse(tensors);
    };
    await this.#run((home) => home.thread.executeStream(home.slot, inputs, outputs, context, respond, signal), undefined,
      (moved) => moved.executeStream(inputs, outputs, context, onResponse, signal).then(() => ({ outputs: [] })),
      () => !answered);
  }

  /** One call: on its thread of its own if moved, else in its slot, run again once if the thread was lost under it. */
  async #run(send: (home: Home) => Promise<CallOutcome>, context: ExecuteContext | undefined,
    sendMoved: (moved: WorkerInstance) => Promise<{ outputs: Tensor[] }>, repeatable: () => boolean = () => true): Promise<{ outputs: Tensor[] }> {
    if (this.#dead) throw this.#dead;
    if (this.#closing) throw new VireoError('VIREO_ERR_WORKER_DIED', 'the instance is closed');
    if (this.#rehoming) await this.#rehoming;
    if (this.#ready) this.#adoptMove();
    if (this.#moved) return sendMoved(this.#moved);
    const limit = callTimeLimit(context, this.#spec.executeTimeoutMs);
    for (let attempt = 0; ; attempt++) {
      const home = this.#home;
      home.inFlight++;
      try {
        const outcome = await this.#bounded(home, send(home), limit);
        this.#observe(outcome.ownMs);
        return outcome;
      } catch (error) {
        const ownMs = (error as { ownMs?: unknown }).ownMs;
        if (typeof ownMs === 'number') this.#observe(ownMs);
        if (!(error instanceof WorkerLost) || attempt > 0 || this.#dead || this.#closing || !repeatable()) throw VireoError.from(error);
        // onLost may have reopened it already (the loss was told before this call failed): run there.
        if (home === this.#home) this.#rehoming ??= this.#rehome();
        await this.#rehoming;
      } finally {
        home.inFlight--;
        if (home.retired && home.inFlight === 0) void home.thread.closeSlot(home.slot).catch(() => undefined);
      }
      // Reopened on a thread of its own (the new shared thread already hosted this version).
      if (this.#moved) return sendMoved(this.#moved);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  onLost(thread: HandlerThread): void {
    if (thread !== this.#home?.thread || this.#closing || this.#dead || this.#moved) return;
    this.#rehoming ??= this.#rehome();
    this.#rehoming.catch(() => undefined);
  }

  onCrash(thread: HandlerThread, error: VireoError): void {
    if (thread !== this.#home?.thread || this.#moved) return;
    this.#die(error);
  }

  async #close(): Promise<void> {
    await this.#rehoming?.catch(() => undefined);
    const pending = await this.#move?.catch(() => undefined);
    await Promise.all([
      this.#moved ? this.#moved.close() : undefined,
      this.#home.retired ? undefined : this.#home.thread.closeSlot(this.#home.slot),
      pending && pending !== this.#moved ? pending.close() : undefined,
    ]);
  }

  async #openSlot(): Promise<Home | undefined> {
    const placed = this.#threads.place(this.key, this.#spec.heapLimitMb);
    if (!placed) return undefined;
    this.signature = await placed.thread.open(placed.slot, this.#spec.options, this);
    return { ...placed, inFlight: 0, retired: false };
  }

  #bounded(home: Home, call: Promise<CallOutcome>, limit: number | undefined): Promise<CallOutcome> {
    if (limit === undefined) return call;
    // The thread decides whose fault it is (handler-thread-host.ts) and tells the owners.
    const timer = setTimeout(() => home.thread.overran(home.slot, limit), limit);
    return call.finally(() => clearTimeout(timer));
  }

  async #rehome(): Promise<void> {
    const lost = this.#home;
    lost.retired = true;
    if (lost.inFlight === 0) void lost.thread.closeSlot(lost.slot).catch(() => undefined);
    try {
      // Another instance of this version may have taken the new thread meanwhile: then a thread of its own.
      const home = await this.#openSlot();
      if (home) this.#home = home;
      else this.#moved = await this.#startOwnThread();
      this.log('info', 'handler reopened on a new thread (the shared handler thread was lost)');
    } catch (error) {
      const reason = VireoError.from(error).message;
      this.#die(new VireoError('VIREO_ERR_WORKER_DIED', `the handler's shared thread was lost and it could not reopen: ${reason}`));
      throw this.#dead;
    } finally {
      this.#rehoming = undefined;
    }
  }

  #observe(ownMs: number): void {
    this.#heavy.observe(ownMs);
    if (this.#spec.placement !== 'auto' || this.#move || this.#moved) return;
    if (this.#heavy.heavy) {
      this.#move = this.#startOwnThread().then((moved) => {
        if (this.#closing || this.#dead) return moved;
        this.#ready = moved;
        this.log('info', `handler moved to a thread of its own (mean own time ${this.#heavy.meanMs.toFixed(1)} ms per call)`);
        return moved;
      }, (error: unknown) => {
        this.log('warn', `handler stays on the shared thread: ${VireoError.from(error).message}`);
        return undefined;
      });
    }
  }

  #startOwnThread(): Promise<WorkerInstance> {
    return WorkerInstance.start('typescript', this.#spec.options, this.log, {
      callModel: this.#spec.callModel,
      executeTimeoutMs: this.#spec.executeTimeoutMs,
      heapLimitMb: this.#spec.heapLimitMb,
      onDeath: (error) => this.#die(error),
    });
  }

  #adoptMove(): void {
    const old = this.#home;
    this.#moved = this.#ready;
    this.#ready = undefined;
    old.retired = true;
    if (old.inFlight === 0) void old.thread.closeSlot(old.slot).catch(() => undefined);
  }

  #die(error: VireoError): void {
    if (this.#dead) return;
    this.#dead = error;
    if (!this.#closing) this.#closing = this.#close().catch(() => undefined);
    this.#spec.onDeath?.(error);
  }
}
