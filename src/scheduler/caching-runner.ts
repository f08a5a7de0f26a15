/**
 * A version's runner behind the response cache (model config `response_cache { enable: true }`):
 * a hit answers at once, skipping queue and instance; a miss runs the request and stores its
 * outputs if it succeeded (errors are never cached). Statistics get Triton's cache_hit (lookup
 * time) and cache_miss (lookup plus insertion time). Closing drops the version's entries.
 */
import type { Tensor } from '../core/tensor.js';
import type { ScheduleOptions } from './pending-request.js';
import { nowNs, type SchedulerRecorder } from './recorder.js';
import type { ResponseCache } from './response-cache.js';

export interface Runner {
  enqueue(inputs: readonly Tensor[], outputs: readonly string[], items: number, options?: ScheduleOptions): Promise<Tensor[]>;
  close(): Promise<void>;
  readonly pending: number;
  destroy?(error: import('../core/errors.js').VireoError): void;
  flush?(): void;
}

let loads = 0;

export class CachingRunner implements Runner {
  readonly #inner: Runner;
  readonly #cache: ResponseCache;
  readonly #recorder: SchedulerRecorder;
  /** Unique per load: entries of an earlier load of the same version never match. */
  readonly #owner: string;

  constructor(inner: Runner, cache: ResponseCache, owner: { model: string; version: string }, recorder: SchedulerRecorder) {
    this.#inner = inner;
    this.#cache = cache;
    this.#recorder = recorder;
    this.#owner = `${owner.model}\0${owner.version}\0${++loads}`;
  }

  get pending(): number {
    return this.#inner.pending;
  }

  async enqueue(inputs: readonly Tensor[], outputs: readonly string[], items: number, options: ScheduleOptions = {}): Promise<Tensor[]> {
    const start = nowNs();
    const key = this.#cache.key(this.#owner, inputs, outputs, options.parameters);
    const hit = this.#cache.get(key);
    const lookupNs = nowNs() - start;
    if (hit) {
      this.#recorder.cacheHit?.(lookupNs);
      return hit;
    }
    const result = await this.#inner.enqueue(inputs, outputs, items, options);
    const insertStart = nowNs();
    this.#cache.set(key, this.#owner, result);
    this.#recorder.cacheMiss?.(lookupNs + nowNs() - insertStart);
    return result;
  }

  async close(): Promise<void> {
    await this.#inner.close();
    this.#cache.drop(this.#owner);
  }

  flush(): void {
    this.#inner.flush?.();
  }

  destroy(error: import('../core/errors.js').VireoError): void {
    this.#inner.destroy?.(error);
    this.#cache.drop(this.#owner);
  }
}
