/**
 * Runs requests of a decoupled model (Triton's model_transaction_policy.decoupled): each request
 * is a stream of 0..N responses from the instance. Streams are not batched; up to
 * MAX_STREAMS_PER_INSTANCE run at once on each instance (a handler's async generator mostly
 * waits), the rest queue in arrival order up to MAX_QUEUED_STREAMS. A client that goes away
 * aborts its stream: queued, it is dropped; running, the instance is told to stop.
 *
 * Public surface: stream, enqueue (refused: one response per call does not fit), pending, close, destroy.
 */
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ModelInstance } from '../backends/backend.js';
import type { ScheduleOptions } from './pending-request.js';
import { NOOP_RECORDER, nowNs, type SchedulerRecorder } from './recorder.js';

export const MAX_STREAMS_PER_INSTANCE = 16;
export const MAX_QUEUED_STREAMS = 1024;

interface QueuedStream {
  inputs: Tensor[];
  outputs: readonly string[];
  options: ScheduleOptions;
  onResponse: (outputs: Tensor[]) => void;
  controller: AbortController;
  arrivalNs: number;
  resolve: () => void;
  reject: (error: VireoError) => void;
}

interface Slot { instance: ModelInstance; running: number }

const isAlive = (instance: ModelInstance): boolean => (instance as { alive?: boolean }).alive !== false;

export class DecoupledRunner {
  readonly #model: string;
  readonly #slots: Slot[];
  readonly #queue: QueuedStream[] = [];
  readonly #recorder: SchedulerRecorder;
  #running = 0;
  #closing = false;
  #drained: (() => void) | undefined;

  constructor(options: { model: string; instances: readonly ModelInstance[]; recorder?: SchedulerRecorder }) {
    this.#model = options.model;
    this.#slots = options.instances.map((instance) => ({ instance, running: 0 }));
    this.#recorder = options.recorder ?? NOOP_RECORDER;
  }

  get pending(): number {
    return this.#queue.length + this.#running;
  }

  enqueue(): Promise<never> {
    const error = new VireoError('VIREO_ERR_MODEL_DECOUPLED', `model "${this.#model}" is decoupled and answers through streams only: use ModelStreamInfer or POST /v2/models/${this.#model}/generate_stream (or /generate for its last response)`);
    this.#recorder.request('failure', 1, 0, undefined, error.code);
    return Promise.reject(error);
  }

  /** Runs one request; `onResponse` gets each response. Settles when the stream ended or failed. */
  stream(inputs: Tensor[], outputs: readonly string[], options: ScheduleOptions, onResponse: (outputs: Tensor[]) => void): Promise<void> {
    const refuse = (error: VireoError) => {
      this.#recorder.request('failure', 1, 0, undefined, error.code);
      return Promise.reject(error);
    };
    if (this.#closing) return refuse(new VireoError('VIREO_ERR_MODEL_NOT_READY', 'the model is unloading and takes no new requests'));
    if (options.signal?.aborted) return refuse(new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'the client cancelled the request'));
    if (this.#queue.length >= MAX_QUEUED_STREAMS) return refuse(new VireoError('VIREO_ERR_QUEUE_FULL', `model "${this.#model}" has ${MAX_QUEUED_STREAMS} streams waiting; retry later`));
    return new Promise<void>((resolve, reject) => {
      // The listener goes once the stream settles, however it does: a signal shared by many streams
      // (a gRPC stream's) would otherwise hold every finished one, and its inputs, until it goes.
      const onAbort = () => this.#cancel(entry);
      const unlisten = () => options.signal?.removeEventListener('abort', onAbort);
      const entry: QueuedStream = {
        inputs, outputs, options, onResponse, controller: new AbortController(), arrivalNs: nowNs(),
        resolve: () => { unlisten(); resolve(); },
        reject: (error) => { unlisten(); reject(error); },
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(entry);
      this.#report();
      this.#pump();
    });
  }

  close(): Promise<void> {
    this.#closing = true;
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => { this.#drained = resolve; });
  }

  destroy(error: VireoError): void {
    this.#closing = true;
    for (const entry of this.#queue.splice(0)) this.#fail(entry, error);
    this.#checkDrained();
  }

  #cancel(entry: QueuedStream): void {
    entry.controller.abort();
    const at = this.#queue.indexOf(entry);
    if (at < 0) return;
    this.#queue.splice(at, 1);
    this.#fail(entry, new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'the client cancelled the request'));
    this.#checkDrained();
  }

  #fail(entry: QueuedStream, error: VireoError): void {
    this.#recorder.request('failure', 1, nowNs() - entry.arrivalNs, undefined, error.code);
    entry.reject(error);
    this.#report();
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const alive = this.#slots.filter((s) => isAlive(s.instance));
      if (alive.length === 0) {
        const error = new VireoError('VIREO_ERR_WORKER_DIED', 'every instance of the model has stopped; the request cannot run');
        for (const entry of this.#queue.splice(0)) this.#fail(entry, error);
        break;
      }
      const slot = alive.reduce((best, s) => (s.running < best.running ? s : best));
      if (slot.running >= MAX_STREAMS_PER_INSTANCE) break;
      void this.#run(slot, this.#queue.shift()!);
    }
    this.#checkDrained();
  }

  async #run(slot: Slot, entry: QueuedStream): Promise<void> {
    slot.running++;
    this.#running++;
    this.#report();
    const start = nowNs();
    try {
      const context = { items: [1], parameters: [entry.options.parameters] };
      await slot.instance.executeStream!(entry.inputs, entry.outputs, context, (outputs) => {
        if (!entry.controller.signal.aborted) entry.onResponse(outputs);
      }, entry.controller.signal);
      const end = nowNs();
      const infer = end - start;
      this.#recorder.batch({ batchSize: 1, startNs: start, computeInputNs: 0, computeInferNs: infer, computeOutputNs: 0 });
      this.#recorder.request('success', 1, end - entry.arrivalNs, { queueNs: start - entry.arrivalNs, computeInputNs: 0, computeInferNs: infer, computeOutputNs: 0 });
      entry.resolve();
    } catch (error) {
      const e = VireoError.from(error);
      this.#recorder.request('failure', 1, nowNs() - entry.arrivalNs, undefined, e.code);
      entry.reject(e);
    } finally {
      slot.running--;
      this.#running--;
      this.#report();
      this.#pump();
    }
  }

  #report(): void {
    this.#recorder.pending(this.pending);
    this.#recorder.busy(this.#slots.filter((s) => s.running > 0).length);
  }

  #checkDrained(): void {
    if (this.#closing && this.pending === 0 && this.#drained) {
      const drained = this.#drained;
      this.#drained = undefined;
      drained();
    }
  }
}
