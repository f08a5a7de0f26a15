/**
 * Where a handler model's instance runs: a slot of the shared handler thread (the default; moved to a
 * thread of its own once heavy, shared-handler-instance.ts), or a thread of its own from the start —
 * for `execution_worker: dedicated`, for a model that bounds its own heap (`max_heap_mb` is a bound on
 * a thread), for the instances of a group beyond the first (they exist to run at the same time), and for
 * a stateful model (`sequence_batching`) unless it says `shared`: a handler that keeps sequences' state
 * in memory would lose it, silently, if another handler's crash restarted it.
 */
import type { VireoError } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import type { InstanceOptions, LogFn, ModelCall, ModelInstance } from '../backend.js';
import { WorkerInstance } from '../worker-instance.js';
import { compileHandler } from './handler-bundle.js';
import { HandlerThread } from './handler-thread-host.js';
import { SharedHandlerInstance } from './shared-handler-instance.js';

export interface HandlerInstanceSpec {
  /** Same for every instance of one model version. */
  key: string;
  options: InstanceOptions;
  placement: 'auto' | 'dedicated' | 'shared' | 'background';
  /** Whether the model configured its own heap bound. */
  ownHeapBound: boolean;
  /** Whether the model keeps state between requests (sequence batching). */
  stateful: boolean;
  log: LogFn;
  callModel?: (call: ModelCall) => Promise<Tensor[]>;
  executeTimeoutMs?: number;
  heapLimitMb?: number;
  onDeath: (error: VireoError) => void;
}

/** The handler compiled once per version (`compiled` caches it for the version's later instances). */
export async function openHandlerInstance(spec: HandlerInstanceSpec, compiled: { module?: Promise<string | undefined> }): Promise<ModelInstance & { readonly alive: boolean }> {
  compiled.module ??= compileHandler(spec.options.modelPath);
  const module = await compiled.module;
  const options = module !== undefined ? { ...spec.options, handler: { ...spec.options.handler!, compiled: module } } : spec.options;
  const services = { callModel: spec.callModel, executeTimeoutMs: spec.executeTimeoutMs, onDeath: spec.onDeath, heapLimitMb: spec.heapLimitMb };
  const placement = spec.placement === 'shared' || (spec.placement === 'auto' && !spec.stateful) ? spec.placement : undefined;
  if (placement && !spec.ownHeapBound) {
    const shared = await SharedHandlerInstance.open(handlerThreads(), { ...services, key: spec.key, options, placement, log: spec.log });
    if (shared) return shared;
  }
  return WorkerInstance.start('typescript', options, spec.log, services);
}

/**
 * Where new handler slots go: the one shared handler thread, started on first use and replaced when
 * it dies; undefined when it already hosts an instance of the same model version (instances of a
 * group exist to run at the same time: the caller gives that one a thread of its own).
 */
export class HandlerThreads {
  #thread: HandlerThread | undefined;
  #nextSlot = 1;

  place(key: string, heapLimitMb: number | undefined): { thread: HandlerThread; slot: number } | undefined {
    if (!this.#thread?.alive) this.#thread = new HandlerThread(heapLimitMb);
    if (!this.#thread.accepts(key)) return undefined;
    return { thread: this.#thread, slot: this.#nextSlot++ };
  }
}

let processThreads: HandlerThreads | undefined;
/** The process's handler threads, started on first use. */
export function handlerThreads(): HandlerThreads {
  processThreads ??= new HandlerThreads();
  return processThreads;
}
