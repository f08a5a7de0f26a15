/**
 * The execution pool: the worker threads that run ONNX instances. Instead of one thread (a whole
 * V8 isolate with its own copy of Vireo's modules, ≈ 15–20 MB) per instance, light instances share
 * a few threads — as many as the CPU budget has cores (core/cpu-budget.ts) — and only instances
 * that keep a thread busy get one of their own. docs/ARCHITECTURE.md ("Execution pool") has the
 * measured trade-offs.
 *
 * Placement (`place`): a new shared slot goes to the shared worker with the fewest slots, never to
 * one that already hosts an instance of the same model version — instances of a group exist to run
 * at the same time. A new shared worker starts only when no running one may take the slot (up to
 * `sharedWorkers`; beyond, the instance gets a dedicated worker) or when light models contend for
 * one (`placeSpread`): an idle shared thread costs ≈ 17 MiB, and a repository of models that are
 * rarely called at once needs one. Which instances move — from shared to dedicated when heavy, to a
 * new shared thread when contending — is PooledInstance's decision (pooled-instance.ts).
 *
 * Background (`placeBackground`): the sessions that run batch-job work (scheduler/background-lane.ts)
 * share one more thread, started at the lowest CPU priority (nice 19 and SCHED_IDLE, core/thread-priority.ts) with its onnxruntime threads,
 * so a job takes only the CPU real-time threads leave idle; it ends when its last session closes.
 */
import { USABLE_CORES } from '../core/cpu-budget.js';
import { PoolWorker, type SlotOwner } from './pool-worker-host.js';

/** Long enough to catch the next request of a closed-loop client over loopback HTTP. */
export const DEFAULT_POOL_SPIN_WAIT_US = 1000;
/** Model files remembered as heavy (a few bytes each; a repository rarely has this many). */
const MAX_REMEMBERED_FILES = 4096;
/** The background thread's nice value: the weakest claim on a core Linux offers to a thread. */
export const BACKGROUND_NICE = 19;

export interface ExecutionPoolOptions {
  /** Threads that light instances share (default: the CPU budget's cores, or VIREO_EXECUTION_WORKERS). */
  sharedWorkers?: number;
  /** How long an idle shared worker spins for its next call before parking (µs). */
  spinWaitUs?: number;
}

export interface PlacedSlot {
  worker: PoolWorker;
  slot: number;
}

/** Owners are keyed by model version so a group's instances spread over threads. */
export interface KeyedOwner extends SlotOwner {
  readonly key: string;
}

function defaultSharedWorkers(): number {
  const configured = Number(process.env.VIREO_EXECUTION_WORKERS);
  return Number.isInteger(configured) && configured > 0 ? configured : USABLE_CORES;
}

export class ExecutionPool {
  readonly sharedWorkers: number;
  readonly #spinWaitUs: number;
  readonly #shared: PoolWorker[] = [];
  /** Dedicated threads whose instance closed, kept for the next one (at most `sharedWorkers`). */
  readonly #idleDedicated: PoolWorker[] = [];
  readonly #owners = new Map<PoolWorker, Set<KeyedOwner>>();
  #background: PoolWorker | undefined;
  #nextSlot = 1;
  /** Content hashes of model files whose instances moved to a thread of their own (oldest first). */
  readonly #heavyFiles = new Set<string>();

  constructor(options: ExecutionPoolOptions = {}) {
    this.sharedWorkers = Math.max(1, options.sharedWorkers ?? defaultSharedWorkers());
    this.#spinWaitUs = options.spinWaitUs ?? DEFAULT_POOL_SPIN_WAIT_US;
  }

  /** Threads running now (shared and dedicated). */
  get threads(): number {
    return this.#owners.size;
  }

  /**
   * Remembers that instances of the model file with this content hash proved heavy: the next instance
   * of that file (a reload, a load/unload cycle, a restart) starts on a thread of its own instead of
   * proving it again — which would open a second session beside the first each time, and keep malloc's
   * high-water mark up (README, "Many models per server", load/unload cycles).
   */
  rememberHeavy(fileHash: string): void {
    if (!fileHash) return;
    this.#heavyFiles.delete(fileHash);
    this.#heavyFiles.add(fileHash);
    if (this.#heavyFiles.size > MAX_REMEMBERED_FILES) this.#heavyFiles.delete(this.#heavyFiles.values().next().value!);
  }

  provedHeavy(fileHash: string): boolean {
    return fileHash !== '' && this.#heavyFiles.has(fileHash);
  }

  /** Chooses a worker for a new slot of `owner` and reserves the slot number. */
  place(owner: KeyedOwner, dedicated: boolean, spinWaitUs = this.#spinWaitUs): PlacedSlot {
    const slot = this.#nextSlot++;
    const worker = (dedicated ? this.#takeIdleDedicated() : this.#sharedFor(owner.key)) ?? this.#spawn(true, spinWaitUs);
    this.#owners.get(worker)!.add(owner);
    return { worker, slot };
  }

  /**
   * Whether a contending instance could move to a shared thread of its own (`placeSpread`). Read on
   * every contended call once a pool has all its threads: a count, no allocation.
   */
  get canSpread(): boolean {
    let running = 0;
    for (const worker of this.#shared) if (worker.accepting) running++;
    return running < this.sharedWorkers;
  }

  /**
   * A slot on a new shared thread for an instance whose calls keep finding another model's call
   * running on its thread; undefined once the pool has all its shared threads.
   */
  placeSpread(owner: KeyedOwner): PlacedSlot | undefined {
    this.#forgetDeadShared();
    if (this.#shared.length >= this.sharedWorkers) return undefined;
    const worker = this.#spawn(false, this.#spinWaitUs);
    this.#owners.get(worker)!.add(owner);
    return { worker, slot: this.#nextSlot++ };
  }

  /** A slot on the background thread (started at nice 19 on first use; it never spins). */
  placeBackground(owner: KeyedOwner): PlacedSlot {
    if (!this.#background?.accepting) {
      this.#background = new PoolWorker({ dedicated: false, spinWaitUs: 0, nice: BACKGROUND_NICE });
      this.#owners.set(this.#background, new Set());
    }
    this.#owners.get(this.#background)!.add(owner);
    return { worker: this.#background, slot: this.#nextSlot++ };
  }

  /** Forgets `owner` on `worker` (after its slot closed or the worker died). */
  release(worker: PoolWorker, owner: KeyedOwner): void {
    const owners = this.#owners.get(worker);
    owners?.delete(owner);
    if (!owners || owners.size > 0) return;
    if (!worker.accepting) this.#forget(worker);
    else if (worker === this.#background) {
      // No job runs any more: the thread and its sessions' memory go until the next job.
      this.#forget(worker);
      this.#background = undefined;
      void worker.retire();
    }
    else if (worker.dedicated && !this.#idleDedicated.includes(worker)) {
      // Kept for the next heavy instance (a shared thread is kept anyway, in #shared).
      this.#idleDedicated.push(worker);
      if (this.#idleDedicated.length > this.sharedWorkers) {
        const oldest = this.#idleDedicated.shift()!;
        this.#forget(oldest);
        void oldest.retire();
      }
    }
  }

  #takeIdleDedicated(): PoolWorker | undefined {
    for (let worker = this.#idleDedicated.pop(); worker; worker = this.#idleDedicated.pop()) {
      if (worker.accepting) return worker;
      this.#forget(worker);
    }
    return undefined;
  }

  #sharedFor(key: string): PoolWorker | undefined {
    this.#forgetDeadShared();
    let best: PoolWorker | undefined;
    for (const w of this.#shared) {
      if ([...this.#owners.get(w)!].some((o) => o.key === key)) continue;
      if (!best || this.#owners.get(w)!.size < this.#owners.get(best)!.size) best = w;
    }
    if (best) return best;
    return this.#shared.length < this.sharedWorkers ? this.#spawn(false, this.#spinWaitUs) : undefined;
  }

  #forgetDeadShared(): void {
    for (const worker of this.#shared.filter((w) => !w.accepting)) this.#forget(worker);
  }

  #spawn(dedicated: boolean, spinWaitUs: number): PoolWorker {
    const worker = new PoolWorker({ dedicated, spinWaitUs });
    this.#owners.set(worker, new Set());
    if (!dedicated) this.#shared.push(worker);
    return worker;
  }

  #forget(worker: PoolWorker): void {
    this.#owners.delete(worker);
    const idle = this.#idleDedicated.indexOf(worker);
    if (idle >= 0) this.#idleDedicated.splice(idle, 1);
    const at = this.#shared.indexOf(worker);
    if (at >= 0) this.#shared.splice(at, 1);
  }
}

/** The process's pool, started on first use (threads appear as instances are placed). */
let processPool: ExecutionPool | undefined;
export function executionPool(): ExecutionPool {
  processPool ??= new ExecutionPool();
  return processPool;
}
