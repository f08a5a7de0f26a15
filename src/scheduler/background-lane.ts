/**
 * The background lane of one model version: an instance of its own that runs only batch-job work
 * (the scheduler's background level), opened when a job first needs it and closed when jobs have
 * left it idle for a while.
 *
 * Why a separate instance: with one pool of instances, a real-time request that arrives while a job
 * batch runs waits for that batch, and a job batch in onnxruntime holds its cores at the same CPU
 * priority as real-time threads. The lane's instance is opened by the model loader on the execution
 * pool's background thread (nice 19, backends/execution-pool.ts), so real-time requests never queue
 * behind job work and the kernel hands the cores to real-time threads the moment they want them,
 * while the job keeps every cycle they leave idle. The price is one more session of the model while
 * a job runs (docs/batch-api.md, "Beside real-time traffic").
 *
 * When the lane cannot open (the opener rejects) it stays unavailable for a while and background
 * work falls back to the model's own instances, behind every real-time level, as it ran before.
 */
import type { ModelInstance } from '../backends/backend.js';

/** Idle this long, the lane's instance closes (its memory is returned until the next job). */
export const LANE_IDLE_CLOSE_MS = 30_000;
/** After a failed open, background work uses the model's own instances this long before trying again. */
const RETRY_OPEN_MS = 60_000;

export interface LaneSlot { instance: ModelInstance; busy: boolean }

export interface BackgroundLaneOptions {
  /** Opens the lane's instance (the model loader's choice of thread and settings). */
  open: () => Promise<ModelInstance>;
  /** Called when the instance has opened (or failed to): the scheduler dispatches again. */
  changed: () => void;
  log?: (level: 'info' | 'warn', message: string) => void;
  idleCloseMs?: number;
}

export class BackgroundLane {
  readonly #o: BackgroundLaneOptions;
  #slot: LaneSlot | undefined;
  #opening: Promise<void> | undefined;
  #unavailableUntil = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: BackgroundLaneOptions) {
    this.#o = options;
  }

  /** False while a failed open is recent: background work then runs on the model's own instances. */
  get available(): boolean {
    return !this.#closed && Date.now() >= this.#unavailableUntil;
  }

  /**
   * The lane's idle slot, if it has one now; otherwise starts opening it (when needed) and returns
   * undefined — `changed` is called once it can be asked again.
   */
  idleSlot(): LaneSlot | undefined {
    if (this.#idleTimer) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    const slot = this.#slot;
    if (slot && !slot.busy && (slot.instance as { alive?: boolean }).alive === false) {
      // An instance that died (its thread was lost) is replaced on the next need.
      this.#slot = undefined;
      void slot.instance.close().catch(() => undefined);
    }
    if (this.#slot) return this.#slot.busy ? undefined : this.#slot;
    if (!this.#opening && this.available) this.#opening = this.#open();
    return undefined;
  }

  /** No background work is queued or running: close the instance if that lasts. */
  idle(): void {
    if (!this.#slot || this.#slot.busy || this.#idleTimer || this.#closed) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      const slot = this.#slot;
      if (!slot || slot.busy) return;
      this.#slot = undefined;
      void slot.instance.close().catch(() => undefined);
    }, this.#o.idleCloseMs ?? LANE_IDLE_CLOSE_MS);
    this.#idleTimer.unref();
  }

  /** Closes the instance (the model is unloading); nothing runs on the lane afterwards. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    await this.#opening;
    const slot = this.#slot;
    this.#slot = undefined;
    await slot?.instance.close().catch(() => undefined);
  }

  async #open(): Promise<void> {
    try {
      const instance = await this.#o.open();
      if (this.#closed) await instance.close().catch(() => undefined);
      else {
        this.#slot = { instance, busy: false };
        this.#o.log?.('info', 'batch-job instance opened on the background thread');
      }
    } catch (error) {
      this.#unavailableUntil = Date.now() + RETRY_OPEN_MS;
      this.#o.log?.('warn', `batch-job work runs on the model's own instances: its background instance could not open (${(error as Error).message})`);
    } finally {
      this.#opening = undefined;
      if (!this.#closed) this.#o.changed();
    }
  }
}
