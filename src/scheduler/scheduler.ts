/**
 * The per-model-version scheduler: priority queues in front of a pool of instances, with Triton's
 * dynamic batching when configured. Requests that share non-batch dims and requested outputs are
 * concatenated along dim 0 (never beyond max_batch_size), executed once on the first idle
 * instance, and each caller gets a view of its own rows. Without dynamic batching, requests run
 * one at a time, in priority then arrival order.
 *
 * Background (batch-job) requests wait behind every real-time level. With a background lane
 * (background-lane.ts) they run only there, on an instance of their own at low CPU priority, and
 * real-time requests never wait for them; without one they share the model's instances. With
 * `yieldToRealtime`, a lane's batch starts only between real-time executions of the whole process
 * (realtime-gate.ts).
 *
 * Public surface: enqueue, pending, close (drain) and destroy (fail what waits).
 */
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ModelInstance } from '../backends/backend.js';
import { executeBatch, ResponseOrder, type BatchOutcome, type BatchTimings } from './batch-execution.js';
import { AdaptiveBatching } from './adaptive-batching.js';
import { batchPolicy, choosePlan, type BatchPolicy } from './batch-planner.js';
import { PendingRequest, compatibilityKey, type ScheduleOptions } from './pending-request.js';
import { DEFAULT_POLICY, PriorityQueues, queueTimeoutUs, toQueuePolicy, type QueuePolicy, type QueuePolicyConfig } from './priority-queues.js';
import { NOOP_RECORDER, nowNs, type SchedulerRecorder } from './recorder.js';
import { WakeTimer } from './wake-timer.js';
import { BackgroundLane, type BackgroundLaneOptions } from './background-lane.js';
import { BackgroundHold, realtimeGate } from './realtime-gate.js';

/** Triton's ModelDynamicBatching as written in a model configuration (plus Vireo's adaptive mode). */
export interface DynamicBatchingConfig {
  preferred_batch_size: number[];
  max_queue_delay_microseconds: number;
  preserve_ordering: boolean;
  priority_levels: number;
  default_priority_level: number;
  default_queue_policy?: QueuePolicyConfig;
  priority_queue_policy?: Record<string, QueuePolicyConfig>;
  adaptive?: { target_latency_ms: number };
}

export interface SchedulerOptions {
  instances: readonly ModelInstance[];
  /**
   * Executions each instance takes at once (default 1). 2 keeps a next batch waiting at an
   * instance that runs its calls one after another (an execution worker does), so it starts the
   * moment the last one ends: throughput for a batch job, at the cost of the second batch's latency
   * (ModelDefaults.pipelinedModels).
   */
  executionsPerInstance?: number;
  /** 0: the model has no batch dimension and every request runs alone. */
  maxBatchSize: number;
  dynamicBatching?: DynamicBatchingConfig;
  /** Queue bound of a priority level whose configuration sets no queue policy (0: unbounded). */
  defaultMaxQueueSize?: number;
  recorder?: SchedulerRecorder;
  /** Opens an instance for background work only (see background-lane.ts); without it, background work shares `instances`. */
  backgroundLane?: Omit<BackgroundLaneOptions, 'changed'>;
  /** The lane's batches start only between real-time executions (realtime-gate.ts; `parameters.batch_job_yield`). */
  yieldToRealtime?: boolean;
}

interface Slot { instance: ModelInstance; busy: boolean }

/** Worker-backed instances report `alive`; any other instance is assumed alive. */
const isAlive = (instance: ModelInstance): boolean => (instance as { alive?: boolean }).alive !== false;

export class Scheduler {
  readonly #slots: Slot[];
  readonly #instances: number;
  readonly #queues: PriorityQueues;
  readonly #batch: BatchPolicy | undefined;
  readonly #adaptive: AdaptiveBatching | undefined;
  readonly #maxBatchSize: number;
  readonly #defaultLevel: number;
  /** The model's own priority levels; one more level behind them holds background (batch-job) work. */
  readonly #levels: number;
  readonly #recorder: SchedulerRecorder;
  readonly #order: ResponseOrder;
  #executing = 0;
  readonly #timer = new WakeTimer(() => this.#pump());
  /** Earliest queue deadline of any request enqueued since the last expiry scan (a lower bound). */
  #closing = false;
  /** Draining (flush): queued batches run without waiting out their batching delay. */
  #flushing = false;
  #drained: (() => void) | undefined;
  readonly #lane: BackgroundLane | undefined;
  readonly #hold: BackgroundHold | undefined;

  constructor(options: SchedulerOptions) {
    // Depth first over instances ([a, b, a, b]): the first free slot spreads batches across instances.
    const depth = Math.max(1, options.executionsPerInstance ?? 1);
    this.#slots = Array.from({ length: depth }, () => options.instances.map((instance) => ({ instance, busy: false }))).flat();
    this.#instances = options.instances.length;
    this.#maxBatchSize = options.maxBatchSize;
    this.#recorder = options.recorder ?? NOOP_RECORDER;
    const db = options.dynamicBatching;
    const levels = Math.max(1, db?.priority_levels ?? 0);
    const policies: QueuePolicy[] = [];
    const unset: QueuePolicy = { ...DEFAULT_POLICY, maxQueueSize: options.defaultMaxQueueSize ?? 0, maxQueueSizeOption: '--default-max-queue-size' };
    for (let level = 1; level <= levels; level++) {
      const written = db?.priority_queue_policy?.[String(level)] ?? db?.default_queue_policy;
      policies.push(written ? toQueuePolicy(written) : unset);
    }
    this.#levels = levels;
    // Background work has no queue policy of its own: its submitter bounds how much it queues.
    policies.push(DEFAULT_POLICY);
    this.#queues = new PriorityQueues(policies);
    // Triton requires default_priority_level in [1, priority_levels]; unset means the lowest level.
    this.#defaultLevel = db && db.default_priority_level > 0 ? Math.min(db.default_priority_level, levels) - 1 : levels - 1;
    this.#order = new ResponseOrder(db?.preserve_ordering ?? false);
    const batching = db !== undefined && options.maxBatchSize > 0;
    this.#batch = batching ? batchPolicy(options.maxBatchSize, db.preferred_batch_size, db.max_queue_delay_microseconds) : undefined;
    this.#lane = options.backgroundLane ? new BackgroundLane({ ...options.backgroundLane, changed: () => this.#pump() }) : undefined;
    this.#hold = options.backgroundLane && options.yieldToRealtime ? new BackgroundHold(() => this.#pump()) : undefined;
    this.#adaptive = batching && db.adaptive
      ? new AdaptiveBatching({ targetLatencyMs: db.adaptive.target_latency_ms, maxBatchSize: options.maxBatchSize, instances: this.#instances })
      : undefined;
  }

  /** The adaptive controller, when the model uses adaptive batching (exposed for statistics and tests). */
  get adaptive(): AdaptiveBatching | undefined {
    return this.#adaptive;
  }

  /** Requests queued or executing. */
  get pending(): number {
    return this.#queues.size + this.#executing;
  }

  /**
   * Queues one request. `items` is its batch size (dim 0 of every input when the model batches).
   * Resolves with the requested outputs, or rejects with a VireoError; never both, exactly once.
   */
  enqueue(inputs: readonly Tensor[], outputs: readonly string[], items: number, options: ScheduleOptions = {}): Promise<Tensor[]> {
    if (this.#closing) return this.#refuse(items, new VireoError('VIREO_ERR_MODEL_NOT_READY', 'the model is unloading and takes no new requests'));
    if (options.signal?.aborted) return this.#refuse(items, new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'the client cancelled the request'));
    const level = options.background ? this.#levels : this.#levelOf(options.priority);
    if (this.#queues.isFull(level)) {
      const policy = this.#queues.policies[level]!;
      return this.#refuse(items, new VireoError('VIREO_ERR_QUEUE_FULL', `the queue is full (max_queue_size ${policy.maxQueueSize}${policy.maxQueueSizeOption ? `, ${policy.maxQueueSizeOption}` : ''}); retry later`));
    }
    return new Promise<Tensor[]>((resolve, reject) => {
      const arrival = nowNs();
      // Only a batching scheduler ever compares keys; without batching the string is not built.
      const key = this.#batch ? compatibilityKey(inputs, outputs) : '';
      const request = new PendingRequest(inputs, outputs, items, key, options.signal, arrival, resolve, reject);
      request.level = level;
      request.parameters = options.parameters;
      request.trace = options.trace;
      const policy = this.#queues.policies[level]!;
      const timeoutUs = queueTimeoutUs(policy, options.timeoutUs);
      if (timeoutUs > 0) request.deadlineNs = arrival + timeoutUs * 1000;
      request.onAbort(() => this.#cancel(request));
      this.#adaptive?.observeArrival(arrival, items);
      this.#queues.push(request);
      this.#recorder.pending(this.pending);
      this.#pump();
    });
  }

  /**
   * The server is draining: what is queued runs now rather than after its batching delay, and so does
   * what arrives from here on. Requests are still taken — an admitted request's ensemble steps and its
   * handler's BLS calls are new requests to this model — until close().
   */
  flush(): void {
    this.#flushing = true;
    this.#pump();
  }

  /** Stops taking requests, lets every queued and running one finish, then resolves. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#pump();
    if (this.pending > 0) await new Promise<void>((resolve) => { this.#drained = resolve; });
    this.#hold?.close();
    await this.#lane?.close();
  }

  /** Fails everything still queued; running batches finish. */
  destroy(error: VireoError): void {
    this.#closing = true;
    for (const request of this.#queues.pending()) this.#failQueued(request, error);
    this.#checkDrained();
    this.#hold?.close();
    void this.#lane?.close();
  }

  /** A request refused at the door is still a failed request for statistics and metrics. */
  #refuse(items: number, error: VireoError): Promise<never> {
    this.#recorder.request('failure', items, 0, undefined, error.code);
    return Promise.reject(error);
  }

  /** Triton: priority 0, or one beyond the model's levels, means the default level. */
  #levelOf(priority: number | undefined): number {
    const levels = this.#levels;
    if (!priority || priority <= 0 || priority > levels) return this.#defaultLevel;
    return priority - 1;
  }

  #cancel(request: PendingRequest): void {
    if (request.state !== 'PENDING') return;
    this.#failQueued(request, new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'the client cancelled the request'));
    this.#checkDrained();
  }

  #failQueued(request: PendingRequest, error: VireoError): void {
    this.#queues.forget(request);
    request.fail(error);
    this.#recorder.request('failure', request.items, nowNs() - request.arrivalNs, undefined, error.code);
    this.#recorder.pending(this.pending);
  }

  /** Fails or delays requests whose queue timeout passed; returns the next deadline. */
  #expire(now: number): number {
    return this.#queues.expire(now, (request) => this.#failQueued(request, new VireoError('VIREO_ERR_REQUEST_TIMEOUT', 'the request timed out in the queue before it could run')));
  }

  #pump(): void {
    const now = nowNs();
    let wakeAt = this.#expire(now);
    this.#adaptive?.observePending(now, this.pending);
    const policy = this.#adaptive ? this.#adaptive.policy(now) : this.#batch;
    const background = this.#levels;
    const lane = this.#lane?.available ? this.#lane : undefined;
    // With a lane, the model's own instances take real-time levels only.
    wakeAt = this.#dispatch(undefined, 0, lane ? background : background + 1, policy, now, wakeAt);
    if (lane) {
      if (this.#queues.sizeIn(background, background + 1) === 0) lane.idle();
      else {
        const held = this.#hold?.check(now);
        wakeAt = held !== undefined ? Math.min(wakeAt, held) : this.#dispatch(lane, background, background + 1, policy, now, wakeAt);
      }
    }
    this.#timer.arm(wakeAt, now);
    this.#checkDrained();
  }

  /** Runs plans from levels [first, end) on the lane's slot or the model's own while one is idle; returns the next wake-up. */
  #dispatch(lane: BackgroundLane | undefined, first: number, end: number, policy: BatchPolicy | undefined, now: number, wakeAt: number): number {
    while (this.#queues.sizeIn(first, end) > 0) {
      const slot = lane ? lane.idleSlot() : this.#idleSlot();
      if (!slot) break;
      const plan = choosePlan(this.#queues.pending(first, end), policy, now, this.#closing || this.#flushing);
      if (plan.wait !== undefined) return Math.min(wakeAt, plan.wait);
      // Real-time work (not the lane's, not background plans on the model's own instances) holds job batches back.
      void this.#run(slot, plan.requests, lane ? 'lane' : plan.requests.some((r) => r.level < this.#levels) ? 'realtime' : 'background');
    }
    return wakeAt;
  }

  #idleSlot(): Slot | undefined {
    const slot = this.#slots.find((s) => !s.busy && isAlive(s.instance));
    if (!slot && !this.#slots.some((s) => isAlive(s.instance))) this.#failAll();
    return slot;
  }

  async #run(slot: Slot, requests: PendingRequest[], kind: 'realtime' | 'lane' | 'background'): Promise<void> {
    slot.busy = true;
    if (kind === 'realtime') realtimeGate.begin();
    const start = nowNs();
    let traces: unknown[] | undefined;
    for (const r of requests) {
      this.#queues.forget(r);
      r.transition('EXECUTING');
      r.queueNs = start - r.arrivalNs;
      if (r.trace !== undefined) (traces ??= []).push(r.trace);
    }
    this.#executing += requests.length;
    this.#recorder.busy(this.#busySlots());
    const batchItems = requests.reduce((sum, r) => sum + r.items, 0);
    const turn = this.#order.take();
    const { outcome, timings } = await executeBatch(slot.instance, requests, batchItems, this.#maxBatchSize > 0, start);
    if (kind === 'realtime') realtimeGate.end();
    else if (kind === 'lane' && !('error' in outcome)) this.#hold?.observe(timings.computeInferNs / 1e6);
    slot.busy = false;
    this.#executing -= requests.length;
    this.#recorder.batch({ batchSize: batchItems, startNs: start, ...timings }, traces);
    if (this.#adaptive && !('error' in outcome)) this.#adaptive.observeBatch(batchItems, timings.computeInputNs + timings.computeInferNs + timings.computeOutputNs);
    await turn.previous;
    this.#settle(requests, outcome, timings);
    turn.done();
    this.#recorder.busy(this.#busySlots());
    this.#recorder.pending(this.pending);
    this.#pump();
  }

  #settle(requests: PendingRequest[], outcome: BatchOutcome, compute: BatchTimings): void {
    const end = nowNs();
    requests.forEach((r, i) => {
      const timings = { queueNs: r.queueNs, computeInputNs: compute.computeInputNs, computeInferNs: compute.computeInferNs, computeOutputNs: compute.computeOutputNs };
      if ('error' in outcome) {
        r.fail(outcome.error);
        this.#recorder.request('failure', r.items, end - r.arrivalNs, timings, outcome.error.code);
      } else {
        r.release(outcome.outputs[i]!);
        this.#recorder.request('success', r.items, end - r.arrivalNs, timings);
        this.#adaptive?.observeLatency(end - r.arrivalNs);
      }
    });
  }

  /** The model's own instances executing now (the background lane is not one of them). */
  #busySlots(): number {
    // Instance k holds slots k, k + n, k + 2n, … (see the constructor): with two executions it is one busy.
    let busy = 0;
    for (let k = 0; k < this.#instances; k++) {
      for (let s = k; s < this.#slots.length; s += this.#instances) {
        if (this.#slots[s]!.busy) {
          busy++;
          break;
        }
      }
    }
    return busy;
  }

  /** Every instance is dead: nothing queued can ever run, so answer now instead of hanging. */
  #failAll(): void {
    const error = new VireoError('VIREO_ERR_WORKER_DIED', 'every instance of the model has stopped; the request cannot run');
    for (const request of this.#queues.pending()) this.#failQueued(request, error);
  }

  #checkDrained(): void {
    if (this.#closing && this.pending === 0 && this.#drained) {
      this.#timer.disarm();
      const drained = this.#drained;
      this.#drained = undefined;
      drained();
    }
  }
}
