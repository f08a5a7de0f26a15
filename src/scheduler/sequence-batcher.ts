/**
 * Triton's sequence batcher for stateful models. Every request names its sequence (sequence_id,
 * sequence_start, sequence_end); the batcher keeps per sequence a FIFO of its requests and at most
 * one of them executing, so a sequence's steps run in order and each sees the state the previous
 * one left. It adds the control inputs (START/END/READY/CORRID) and the implicit state inputs,
 * takes the state outputs back (clients never see them) and hands the step to an inner Scheduler,
 * which batches steps of different sequences together.
 *
 * Slots: a sequence holds a slot from its start to its end (or idle release); how many there are
 * and which inner Scheduler each belongs to follows the strategy (sequence-strategy.ts). Sequences
 * beyond the slots wait in an ordered backlog (bounded: max_sequence_backlog); idle sequences are
 * released and their state freed.
 *
 * Invariants: a live sequence is in `#live` and either holds a slot (slot >= 0) or is in
 * `#backlog`; `running` is true while exactly one of its steps is in an inner scheduler.
 */
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ModelInstance } from '../backends/backend.js';
import type { ScheduleOptions } from './pending-request.js';
import { NOOP_RECORDER, nowNs, type SchedulerRecorder } from './recorder.js';
import { Scheduler } from './scheduler.js';
import { describeSequence, sequenceFlags, type SequenceFlags } from './sequence-params.js';
import { innerSchedulerPlan, type SequenceStrategy } from './sequence-strategy.js';
import { controlTensors, stateTensor, takeState, type ControlInput, type StateSpec } from './sequence-tensors.js';

export interface SequenceBatcherOptions {
  model: string;
  instances: readonly ModelInstance[];
  maxBatchSize: number;
  controls: readonly ControlInput[];
  states: readonly StateSpec[];
  /** 0: Triton's default of one second. */
  maxSequenceIdleUs: number;
  strategy: SequenceStrategy;
  maxBacklog: number;
  recorder?: SchedulerRecorder;
}

/** Requests one sequence may have waiting behind its running step. */
export const MAX_QUEUED_PER_SEQUENCE = 256;
/** Ended and released ids remembered, to tell a late request why its sequence is gone. */
const GONE_REMEMBERED = 4096;
const DEFAULT_IDLE_US = 1_000_000;

interface Step {
  inputs: readonly Tensor[];
  outputs: readonly string[];
  flags: SequenceFlags;
  options: ScheduleOptions;
  resolve: (outputs: Tensor[]) => void;
  reject: (error: VireoError) => void;
}

interface Sequence {
  readonly key: string;
  slot: number;
  queue: Step[];
  running: boolean;
  /** An END was accepted: only a new START may follow. */
  ending: boolean;
  /** State outputs of the last successful step; absent: the initial state. */
  state: Map<string, Tensor> | undefined;
  lastActiveNs: number;
}

export class SequenceBatcher {
  readonly #o: SequenceBatcherOptions;
  readonly #recorder: SchedulerRecorder;
  readonly #inner: Scheduler[];
  readonly #slotsPerScheduler: number;
  readonly #freeSlots: number[] = [];
  readonly #live = new Map<string, Sequence>();
  readonly #backlog: Sequence[] = [];
  readonly #gone = new Map<string, 'ended' | 'idle'>();
  readonly #stateOutputs: Set<string>;
  readonly #idleNs: number;
  readonly #batched: boolean;
  #queued = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #closing = false;
  #drained: (() => void) | undefined;
  readonly #innerPending: number[];
  readonly #innerBusy: number[];

  constructor(options: SequenceBatcherOptions) {
    this.#o = options;
    this.#recorder = options.recorder ?? NOOP_RECORDER;
    this.#batched = options.maxBatchSize > 0;
    this.#idleNs = (options.maxSequenceIdleUs || DEFAULT_IDLE_US) * 1000;
    this.#stateOutputs = new Set(options.states.map((s) => s.outputName));
    const { groups, dynamicBatching, slots, slotsPerScheduler } = innerSchedulerPlan(options.instances, options.maxBatchSize, options.strategy);
    this.#innerPending = groups.map(() => 0);
    this.#innerBusy = groups.map(() => 0);
    this.#inner = groups.map((instances, index) => new Scheduler({
      instances, maxBatchSize: options.maxBatchSize, dynamicBatching, recorder: this.#innerRecorder(index),
    }));
    this.#slotsPerScheduler = slotsPerScheduler;
    for (let slot = slots - 1; slot >= 0; slot--) this.#freeSlots.push(slot);
  }

  /** Sequences holding a slot. */
  get active(): number {
    return this.#live.size - this.#backlog.length;
  }

  get backlog(): number {
    return this.#backlog.length;
  }

  /** Requests waiting in sequences or in the inner schedulers. */
  get pending(): number {
    return this.#queued + this.#innerPending.reduce((a, b) => a + b, 0);
  }

  enqueue(inputs: readonly Tensor[], outputs: readonly string[], items: number, options: ScheduleOptions = {}): Promise<Tensor[]> {
    let flags: SequenceFlags;
    try {
      if (this.#closing) throw new VireoError('VIREO_ERR_MODEL_NOT_READY', 'the model is unloading and takes no new requests');
      flags = sequenceFlags(options.parameters, this.#o.model);
      if (items !== 1) throw new VireoError('VIREO_ERR_SEQUENCE_BATCH_SIZE', `model "${this.#o.model}" batches sequences: each request is one step of one sequence (batch size 1), got ${items}`);
    } catch (error) {
      return this.#refuse(VireoError.from(error));
    }
    let sequence = this.#live.get(flags.key);
    if (!sequence) {
      if (!flags.start) return this.#refuse(this.#unknown(flags));
      const created = this.#open(flags);
      if (created instanceof VireoError) return this.#refuse(created);
      sequence = created;
    } else if (sequence.ending && !flags.start) {
      return this.#refuse(new VireoError('VIREO_ERR_SEQUENCE_UNKNOWN', `sequence ${describeSequence(flags)} of model "${this.#o.model}" has ended; start a new one with "sequence_start"`));
    } else if (sequence.queue.length >= MAX_QUEUED_PER_SEQUENCE) {
      return this.#refuse(new VireoError('VIREO_ERR_SEQUENCE_LIMIT', `sequence ${describeSequence(flags)} already has ${MAX_QUEUED_PER_SEQUENCE} requests waiting; wait for their answers`));
    }
    sequence.ending = flags.end;
    const target = sequence;
    return new Promise<Tensor[]>((resolve, reject) => {
      target.queue.push({ inputs, outputs, flags, options, resolve, reject });
      this.#queued++;
      this.#report();
      this.#dispatch(target);
    });
  }

  /** Stops taking requests, lets every admitted step run, then closes the inner schedulers. */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#queued > 0) await new Promise<void>((resolve) => { this.#drained = resolve; });
    await Promise.all(this.#inner.map((s) => s.close()));
    this.#stopIdleTimer();
  }

  /** Draining: the inner schedulers run what they hold without their batching delay (Scheduler.flush). */
  flush(): void {
    for (const inner of this.#inner) inner.flush();
  }

  /** Fails every step still waiting in a sequence or an inner queue; running batches finish. */
  destroy(error: VireoError): void {
    this.#closing = true;
    for (const sequence of this.#live.values()) {
      for (const step of sequence.queue.splice(0)) this.#failStep(step, error);
    }
    for (const inner of this.#inner) inner.destroy(error);
    this.#checkDrained();
  }

  #refuse(error: VireoError): Promise<never> {
    this.#recorder.request('failure', 1, 0, undefined, error.code);
    return Promise.reject(error);
  }

  #unknown(flags: SequenceFlags): VireoError {
    const gone = this.#gone.get(flags.key);
    const what = `sequence ${describeSequence(flags)} of model "${this.#o.model}"`;
    const why = gone === 'ended' ? 'has ended'
      : gone === 'idle' ? `was released after ${this.#idleNs / 1e6} ms without requests (max_sequence_idle_microseconds)`
        : 'was never started';
    return new VireoError('VIREO_ERR_SEQUENCE_UNKNOWN', `${what} ${why}; start it with "sequence_start": true`);
  }

  #open(flags: SequenceFlags): Sequence | VireoError {
    const slot = this.#freeSlots.pop();
    if (slot === undefined && this.#backlog.length >= this.#o.maxBacklog) {
      return new VireoError('VIREO_ERR_SEQUENCE_LIMIT', `model "${this.#o.model}" has every sequence slot held and ${this.#backlog.length} sequences waiting (max_sequence_backlog); retry later`);
    }
    const sequence: Sequence = { key: flags.key, slot: slot ?? -1, queue: [], running: false, ending: false, state: undefined, lastActiveNs: nowNs() };
    this.#live.set(flags.key, sequence);
    this.#gone.delete(flags.key);
    if (slot === undefined) this.#backlog.push(sequence);
    this.#recorder.sequenceStarted?.();
    this.#armIdleTimer();
    return sequence;
  }

  #dispatch(sequence: Sequence): void {
    if (sequence.slot < 0 || sequence.running) return;
    const step = sequence.queue.shift();
    if (!step) return;
    this.#queued--;
    sequence.running = true;
    if (step.flags.start) sequence.state = undefined;
    const { options } = step;
    if (options.signal?.aborted) {
      this.#finish(sequence, step, { error: new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'the client cancelled the request') });
      return;
    }
    let inputs: Tensor[];
    try {
      inputs = [
        ...step.inputs,
        ...controlTensors(this.#o.controls, step.flags, this.#batched),
        ...this.#o.states.map((spec) => stateTensor(spec, sequence.state?.get(spec.outputName), this.#batched)),
      ];
    } catch (error) {
      this.#finish(sequence, step, { error: VireoError.from(error) });
      return;
    }
    // Asking for no outputs means all of them, state outputs included; otherwise add the state outputs.
    const outputs = step.outputs.length === 0 ? [] : [...new Set([...step.outputs, ...this.#stateOutputs])];
    const inner = this.#inner[Math.floor(sequence.slot / this.#slotsPerScheduler)] ?? this.#inner[0]!;
    inner.enqueue(inputs, outputs, 1, options).then(
      (result) => this.#finish(sequence, step, { outputs: result }),
      (error: unknown) => this.#finish(sequence, step, { error: VireoError.from(error) }),
    );
  }

  #finish(sequence: Sequence, step: Step, outcome: { outputs: Tensor[] } | { error: VireoError }): void {
    sequence.running = false;
    sequence.lastActiveNs = nowNs();
    if ('error' in outcome) {
      // The state stays as the last successful step left it.
      step.reject(outcome.error);
    } else {
      const { visible, state } = takeState(outcome.outputs, this.#stateOutputs);
      const missing = this.#o.states.find((s) => !state.has(s.outputName));
      if (missing) {
        step.reject(new VireoError('VIREO_ERR_BACKEND_EXECUTE', `the model did not return state output "${missing.outputName}"`));
      } else {
        sequence.state = state;
        step.resolve(visible);
      }
    }
    if (step.flags.end && sequence.queue.length === 0) this.#release(sequence, 'ended');
    else this.#dispatch(sequence);
    this.#report();
    this.#checkDrained();
  }

  #failStep(step: Step, error: VireoError): void {
    this.#queued--;
    this.#recorder.request('failure', 1, 0, undefined, error.code);
    step.reject(error);
  }

  /** Frees the sequence's state and slot; the first backlogged sequence takes the slot. */
  #release(sequence: Sequence, why: 'ended' | 'idle'): void {
    this.#live.delete(sequence.key);
    this.#gone.set(sequence.key, why);
    if (this.#gone.size > GONE_REMEMBERED) this.#gone.delete(this.#gone.keys().next().value!);
    sequence.state = undefined;
    this.#recorder.sequenceEnded?.(why);
    const slot = sequence.slot;
    sequence.slot = -1;
    const next = this.#backlog.shift();
    if (next) {
      next.slot = slot;
      next.lastActiveNs = nowNs();
      this.#dispatch(next);
    } else {
      this.#freeSlots.push(slot);
    }
    if (this.#live.size === 0) this.#stopIdleTimer();
  }

  /** One timer for all sequences, armed only while some are live. */
  #armIdleTimer(): void {
    if (this.#idleTimer) return;
    const period = Math.max(10, Math.min(1000, this.#idleNs / 4e6));
    this.#idleTimer = setInterval(() => this.#releaseIdle(), period);
    this.#idleTimer.unref();
  }

  #stopIdleTimer(): void {
    if (this.#idleTimer) clearInterval(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #releaseIdle(): void {
    const now = nowNs();
    for (const sequence of [...this.#live.values()]) {
      if (sequence.slot >= 0 && !sequence.running && sequence.queue.length === 0 && now - sequence.lastActiveNs > this.#idleNs) {
        this.#release(sequence, 'idle');
      }
    }
    this.#report();
  }

  #report(): void {
    this.#recorder.pending(this.pending);
    this.#recorder.sequences?.(this.active, this.#backlog.length);
  }

  /** Each inner scheduler reports absolute counts; the version's gauges want their sums. */
  #innerRecorder(index: number): SchedulerRecorder {
    const recorder = this.#recorder;
    return {
      request: (...args) => recorder.request(...args),
      batch: (...args) => recorder.batch(...args),
      pending: (count) => { this.#innerPending[index] = count; recorder.pending(this.pending); },
      busy: (count) => { this.#innerBusy[index] = count; recorder.busy(this.#innerBusy.reduce((a, b) => a + b, 0)); },
    };
  }

  #checkDrained(): void {
    if (this.#closing && this.#queued === 0 && this.#drained) {
      const drained = this.#drained;
      this.#drained = undefined;
      drained();
    }
  }
}
