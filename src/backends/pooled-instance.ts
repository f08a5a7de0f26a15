/**
 * A ModelInstance whose session lives in a slot of an execution-pool worker (execution-pool.ts).
 *
 * Where it runs: an instance starts on a shared worker with one intra-op thread (a light model
 * gains nothing from more, and every onnxruntime thread costs a stack and a malloc arena). Once its
 * calls prove heavy — a running mean above HEAVY_EXECUTE_MS, cold calls left out (heavy-calls.ts) —
 * it moves to a dedicated worker with the CPU budget's intra-op threads: a new session is opened and
 * warmed with the call that tipped the mean, and adopted between two calls (the scheduler never overlaps calls on one instance), so
 * nothing waits for the move. A heavy model therefore never holds up the light models of a shared
 * thread for more than a few calls, and keeps the whole budget for itself. The pool remembers the
 * file (by content hash): its next instance — a reload, a load/unload cycle — starts dedicated.
 *
 * Light models share one thread until they contend for it: an instance whose calls keep finding
 * another model's call running on its thread (thread-contention.ts) moves,
 * the same way, to a new shared thread while the pool has fewer than its cores' worth — so a
 * repository of rarely called models idles on one thread, and two busy ones still run side by side.
 *
 * Failure: when a call overruns its time bound its worker thread is given up (pool-worker-host.ts:
 * an onnxruntime run cannot be interrupted) and this instance dies (its owner restarts it);
 * instances that merely shared that thread reopen on another worker and run their waiting call again.
 */
import { VireoError } from '../core/errors.js';
import { stampedFileHash } from '../core/file-hash.js';
import { processInflight } from '../core/inflight-requests.js';
import type { Tensor } from '../core/tensor.js';
import { callTimeLimit, type ExecuteContext, type InstanceOptions, type LogFn, type ModelInstance, type ModelSignature } from './backend.js';
import type { ExecutionPool, KeyedOwner, PlacedSlot } from './execution-pool.js';
import { WorkerLost, type PoolWorker } from './pool-worker-host.js';
import { HeavyCalls } from './heavy-calls.js';
import { AnswerSpin } from './spin-policy.js';
import { ThreadContention } from './thread-contention.js';

type MoveTarget = 'dedicated' | 'spread';

/**
 * `auto`: start shared, move when heavy; `dedicated`: a thread of its own from the start; `shared`:
 * never a thread of its own (it may still spread to another shared one); `background`: on the pool's
 * low-priority thread with the budget's intra-op threads (batch-job work, execution-pool.ts), never moves.
 */
export type Placement = 'auto' | 'dedicated' | 'shared' | 'background';

export interface PooledInstanceSpec {
  /** Same key for every instance of one model version (keeps a group's instances apart). */
  key: string;
  options: InstanceOptions;
  /** Intra-op threads on a dedicated worker when the model configures none. */
  dedicatedIntraOpThreads: number;
  placement: Placement;
  log: LogFn;
  /** Upper bound on one call, whatever the requests' own timeouts (0: none). */
  executeTimeoutMs?: number;
  /** Told once when this instance dies (its call overran its bound, or it could not reopen). */
  onDeath?: (error: VireoError) => void;
  /**
   * The content hash of the model file as its version was loaded (undefined: not known yet, for the
   * version's first instance). An instance opened later — another of the group, a restart, the batch
   * jobs' background instance — refuses a file replaced since, instead of running a model the
   * version never loaded; a reload (or poll mode) serves the new file.
   */
  expectedHash?: () => string | undefined;
}

export class PooledInstance implements ModelInstance, KeyedOwner {
  signature!: ModelSignature;
  readonly key: string;
  readonly log: LogFn;
  readonly #pool: ExecutionPool;
  readonly #spec: PooledInstanceSpec;
  readonly #answerSpin = new AnswerSpin();
  #home!: PlacedSlot;
  #rehoming: Promise<void> | undefined;
  #move: { placed: PlacedSlot; ready: boolean; failed: boolean } | undefined;
  readonly #heavy = new HeavyCalls();
  readonly #contention = new ThreadContention();
  #spreadFailed = false;
  #dead: VireoError | undefined;
  #closing: Promise<void> | undefined;
  #fileHash = '';

  private constructor(pool: ExecutionPool, spec: PooledInstanceSpec) {
    this.#pool = pool;
    this.#spec = spec;
    this.key = spec.key;
    this.log = spec.log;
  }

  /** Opens the instance's session in the pool; rejects with why it could not. */
  static async open(pool: ExecutionPool, spec: PooledInstanceSpec): Promise<PooledInstance> {
    const instance = new PooledInstance(pool, spec);
    const before = await stampedFileHash(spec.options.modelPath).catch(() => '');
    // A file whose instances proved heavy before starts where they ended up.
    const dedicated = spec.placement === 'dedicated' || (spec.placement === 'auto' && pool.provedHeavy(before));
    const expected = spec.expectedHash?.();
    if (expected && before !== expected) {
      throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', 'the model file changed (or went) since this version was loaded: load the model again to serve the new file');
    }
    instance.#home = await instance.#openSlot(dedicated ? 'dedicated' : 'shared');
    // Known only if the file did not change while the session read it; unknown means never reopened.
    instance.#fileHash = before === await stampedFileHash(spec.options.modelPath).catch(() => '') ? before : '';
    return instance;
  }

  get alive(): boolean {
    return this.#dead === undefined;
  }

  /** The model file's content hash when this instance opened it ('' if it changed while being read). */
  get fileHash(): string {
    return this.#fileHash;
  }

  /** The thread the instance's calls go to now. */
  get worker(): PoolWorker {
    return this.#home.worker;
  }

  /** Whether the instance has a thread of its own now. */
  get dedicated(): boolean {
    return this.#home.worker.dedicated;
  }

  async execute(inputs: Tensor[], outputs: readonly string[], context?: ExecuteContext): Promise<Tensor[]> {
    if (this.#spec.placement !== 'background') return this.#execute(inputs, outputs, context);
    // A job's call keeps the background thread busy: counted in flight, so real-time threads stop
    // spinning for their next call (spin-policy.ts) on the cores the job would use meanwhile.
    processInflight.begin();
    try {
      return await this.#execute(inputs, outputs, context);
    } finally {
      processInflight.end();
    }
  }

  async #execute(inputs: Tensor[], outputs: readonly string[], context?: ExecuteContext): Promise<Tensor[]> {
    if (this.#dead) throw this.#dead;
    if (this.#closing) throw new VireoError('VIREO_ERR_WORKER_DIED', 'the instance is closed');
    if (this.#rehoming) await this.#rehoming;
    if (this.#move?.ready) this.#adoptMove();
    const limit = callTimeLimit(context, this.#spec.executeTimeoutMs);
    for (let attempt = 0; ; attempt++) {
      const home = this.#home;
      try {
        // Nobody spins the main thread for a background answer: that CPU belongs to real-time work.
        const spinMs = this.#spec.placement === 'background' ? 0 : this.#answerSpin.spinMs(processInflight.current);
        // The scheduler never overlaps one instance's calls: a call in flight here is another model's.
        const contended = !home.worker.dedicated && home.worker.callsInFlight > 0;
        const outcome = await this.#bounded(home, home.worker.execute(home.slot, inputs, outputs, context, spinMs), limit);
        this.#observe(outcome.executeMs, contended, inputs, outputs, context);
        return outcome.outputs;
      } catch (error) {
        if (!(error instanceof WorkerLost) || attempt > 0 || this.#dead || this.#closing) throw VireoError.from(error);
        // Another instance's call ended the shared thread: reopen elsewhere (unless onLost already
        // did, before this call failed) and run again.
        if (home === this.#home) this.#rehoming ??= this.#rehome();
        await this.#rehoming;
      }
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** The home worker died for a reason not of this instance's making. */
  onLost(worker: PoolWorker): void {
    if (worker !== this.#home.worker || this.#closing || this.#dead) return;
    this.#rehoming ??= this.#rehome();
    this.#rehoming.catch(() => undefined);
  }

  async #close(): Promise<void> {
    await this.#rehoming?.catch(() => undefined);
    const move = this.#move;
    this.#move = undefined;
    await Promise.all([this.#closeSlot(this.#home), move?.ready ? this.#closeSlot(move.placed) : undefined]);
  }

  /** Where a new session goes; undefined only for a spread once the pool has all its shared threads. */
  #place(where: 'shared' | MoveTarget): PlacedSlot | undefined {
    if (this.#spec.placement === 'background') return this.#pool.placeBackground(this);
    if (where === 'spread') return this.#pool.placeSpread(this);
    const dedicated = where === 'dedicated';
    return this.#pool.place(this, dedicated, dedicated ? this.#spec.options.spinWaitUs : undefined);
  }

  #openSlot(where: 'shared' | 'dedicated'): Promise<PlacedSlot> {
    return this.#openPlaced(this.#place(where)!);
  }

  async #openPlaced(placed: PlacedSlot): Promise<PlacedSlot> {
    const background = this.#spec.placement === 'background';
    // A background session runs on one thread unless the model configures its threads: its threads are
    // preempted whenever real-time work wants a core (SCHED_IDLE), and a parallel run waits for its slowest
    // thread, so beside real-time traffic two threads gave a job about half the rows one did (README,
    // "Batch jobs in the server"); alone, one thread ran the MLP's job ≈ 10 % slower.
    const intraOpThreads = this.#spec.options.intraOpThreads ?? (background ? 1 : placed.worker.dedicated ? this.#spec.dedicatedIntraOpThreads : 1);
    try {
      this.signature = await placed.worker.open(placed.slot, 'onnx', { ...this.#spec.options, intraOpThreads }, this);
      return placed;
    } catch (error) {
      this.#pool.release(placed.worker, this);
      throw error;
    }
  }

  async #closeSlot(placed: PlacedSlot): Promise<void> {
    await placed.worker.closeSlot(placed.slot);
    this.#pool.release(placed.worker, this);
  }

  #bounded(home: PlacedSlot, call: Promise<{ outputs: Tensor[]; executeMs: number }>, limit: number | undefined) {
    if (limit === undefined) return call;
    const timer = setTimeout(() => {
      const error = new VireoError('VIREO_ERR_REQUEST_TIMEOUT', `the model did not finish the request within ${Math.round(limit)} ms; its instance is being restarted`);
      home.worker.abandon(home.slot, error);
      this.#die(error);
    }, limit);
    return call.finally(() => clearTimeout(timer));
  }

  async #rehome(): Promise<void> {
    const lost = this.#home;
    // Closed in the background: an abandoned thread confirms only after the run it is stuck in.
    void this.#closeSlot(lost).catch(() => undefined);
    try {
      await this.#sameFile();
      const home = await this.#openSlot(lost.worker.dedicated || this.#spec.placement === 'dedicated' ? 'dedicated' : 'shared');
      this.#home = home;
      this.#newHome();
      await this.#sameFile();
      this.log('info', 'instance reopened on another execution worker (its thread was lost)');
    } catch (error) {
      const reason = VireoError.from(error).message;
      this.#die(new VireoError('VIREO_ERR_WORKER_DIED', `the instance's execution worker was lost and it could not reopen: ${reason}`));
      throw this.#dead;
    } finally {
      this.#rehoming = undefined;
    }
  }

  #observe(executeMs: number, contended: boolean, inputs: Tensor[], outputs: readonly string[], context?: ExecuteContext): void {
    this.#answerSpin.observe(executeMs);
    this.#heavy.observe(executeMs);
    this.#contention.observe(contended);
    const placement = this.#spec.placement;
    if ((placement !== 'auto' && placement !== 'shared') || this.#move || this.#home.worker.dedicated) return;
    if (placement === 'auto' && this.#heavy.heavy) {
      void this.#startMove('dedicated', inputs, outputs, context);
    } else if (!this.#spreadFailed && this.#contention.contended && this.#pool.canSpread) {
      void this.#startMove('spread', inputs, outputs, context);
    }
  }

  /**
   * Opens a slot on a dedicated worker (heavy) or a new shared one (contending) and warms it with a
   * copy of a real call; adopted by the next execute.
   */
  async #startMove(target: MoveTarget, inputs: Tensor[], outputs: readonly string[], context?: ExecuteContext): Promise<void> {
    const move = { placed: undefined as unknown as PlacedSlot, ready: false, failed: false };
    this.#move = move;
    const contention = this.#contention.share; // what decided the move (calls go on meanwhile)
    const warm = inputs.map((t) => ({ ...t, data: Array.isArray(t.data) ? [...t.data] : t.data.slice() })) as Tensor[];
    try {
      await this.#sameFile();
      const placed = this.#place(target);
      if (!placed) {
        // Another instance took the last shared thread: this one stays, and may still prove heavy.
        this.#spreadFailed = true;
        if (this.#move === move) this.#move = undefined;
        return;
      }
      move.placed = await this.#openPlaced(placed);
      await this.#sameFile(); // unchanged before and after: the new session read the same model
      await move.placed.worker.execute(move.placed.slot, warm, outputs, context, 0);
      if (this.#move !== move) return void (await this.#closeSlot(move.placed));
      move.ready = true;
      if (target === 'dedicated') {
        this.#pool.rememberHeavy(this.#fileHash);
        this.log('info', `instance moved to its own execution worker (mean call ${this.#heavy.meanMs.toFixed(1)} ms)`);
      } else {
        this.log('info', `instance moved to a new shared execution worker (${Math.round(100 * contention)} % of its recent calls found another model's call running)`);
      }
    } catch (error) {
      if (move.placed) await this.#closeSlot(move.placed).catch(() => undefined);
      if (target === 'spread') {
        // The file changed, or the new thread could not open the session: it stays, and may still prove heavy.
        this.#spreadFailed = true;
        if (this.#move === move) this.#move = undefined;
        return;
      }
      move.failed = true;
      this.log('warn', `instance stays on a shared execution worker: ${VireoError.from(error).message}`);
    }
  }

  /** Reopening reads the model file again: only while it holds what this instance loaded. */
  async #sameFile(): Promise<void> {
    if (await stampedFileHash(this.#spec.options.modelPath).catch(() => '') !== this.#fileHash || this.#fileHash === '') {
      throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', 'the model file changed (or went) since this instance loaded it');
    }
  }

  #adoptMove(): void {
    const old = this.#home;
    this.#home = this.#move!.placed;
    this.#move = undefined;
    void this.#closeSlot(old).catch(() => undefined);
    this.#newHome();
  }

  /** Contention is a property of a thread (thread-contention.ts). */
  #newHome(): void {
    this.#contention.reset();
  }

  #die(error: VireoError): void {
    if (this.#dead) return;
    this.#dead = error;
    // Its slot is closed in the background: the owner replaces the whole instance.
    if (!this.#closing) this.#closing = this.#close();
    this.#spec.onDeath?.(error);
  }
}
