/**
 * Runs ensemble requests: each step starts as soon as every tensor it reads exists and goes to its
 * model through the facade (so that model's scheduler, batching and statistics apply); the
 * request completes when every step has, or fails with the first step error. It stands in for a
 * Scheduler in the repository, with the same enqueue / close / pending surface.
 */
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ModelCall } from '../backends/backend.js';
import type { ScheduleOptions } from '../scheduler/pending-request.js';
import { NOOP_RECORDER, nowNs, type SchedulerRecorder } from '../scheduler/recorder.js';
import type { EnsembleStep } from './ensemble-plan.js';

export class EnsembleRunner {
  readonly #steps: EnsembleStep[];
  readonly #callModel: (call: ModelCall) => Promise<Tensor[]>;
  readonly #recorder: SchedulerRecorder;
  readonly #outputs: readonly string[];
  /** How many step inputs and ensemble outputs read each tensor. */
  readonly #readers = new Map<string, number>();
  #pending = 0;
  #closing = false;
  #drained: (() => void) | undefined;

  constructor(steps: EnsembleStep[], outputs: readonly string[], callModel: (call: ModelCall) => Promise<Tensor[]>, recorder: SchedulerRecorder = NOOP_RECORDER) {
    this.#steps = steps;
    this.#outputs = outputs;
    this.#callModel = callModel;
    this.#recorder = recorder;
    for (const tensor of [...steps.flatMap((s) => Object.values(s.inputMap)), ...outputs]) {
      this.#readers.set(tensor, (this.#readers.get(tensor) ?? 0) + 1);
    }
  }

  /**
   * A step's input: its buffer may move to a worker, so a tensor that something else still reads
   * is given as a copy.
   */
  #feed(tensor: Tensor, ensembleName: string, inputName: string): Tensor {
    if ((this.#readers.get(ensembleName) ?? 0) <= 1) return { ...tensor, name: inputName };
    const data = Array.isArray(tensor.data) ? [...tensor.data] : tensor.data.slice();
    return { ...tensor, name: inputName, data };
  }

  get pending(): number {
    return this.#pending;
  }

  async enqueue(inputs: readonly Tensor[], outputs: readonly string[], items: number, options: ScheduleOptions = {}): Promise<Tensor[]> {
    if (this.#closing) throw new VireoError('VIREO_ERR_MODEL_NOT_READY', 'the model is unloading and takes no new requests');
    const start = nowNs();
    this.#pending++;
    this.#recorder.pending(this.#pending);
    try {
      const tensors = await this.#run(inputs, options);
      const wanted = outputs.length > 0 ? outputs : this.#outputs;
      const result = wanted.map((name) => tensors.get(name)!);
      const total = nowNs() - start;
      this.#recorder.request('success', items, total, { queueNs: 0, computeInputNs: 0, computeInferNs: total, computeOutputNs: 0 });
      return result;
    } catch (error) {
      const e = VireoError.from(error);
      this.#recorder.request('failure', items, nowNs() - start, undefined, e.code);
      throw e;
    } finally {
      this.#pending--;
      this.#recorder.pending(this.#pending);
      if (this.#closing && this.#pending === 0) this.#drained?.();
    }
  }

  close(): Promise<void> {
    this.#closing = true;
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => { this.#drained = resolve; });
  }

  /** Every ensemble tensor of one request once all steps ran. */
  #run(inputs: readonly Tensor[], options: ScheduleOptions): Promise<Map<string, Tensor>> {
    const tensors = new Map<string, Tensor>(inputs.map((t) => [t.name, t]));
    const waiting = new Set(this.#steps);
    let running = 0;
    return new Promise((resolve, reject) => {
      let failed = false;
      const launch = () => {
        if (failed) return;
        if (options.signal?.aborted) {
          failed = true;
          reject(new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'the client cancelled the request'));
          return;
        }
        for (const step of [...waiting]) {
          if (!Object.values(step.inputMap).every((t) => tensors.has(t))) continue;
          waiting.delete(step);
          running++;
          this.#callModel({
            model: step.model,
            version: step.version,
            inputs: Object.entries(step.inputMap).map(([input, tensor]) => this.#feed(tensors.get(tensor)!, tensor, input)),
            outputs: Object.keys(step.outputMap),
          }).then((outputs) => {
            running--;
            for (const output of outputs) {
              const tensor = step.outputMap[output.name];
              if (tensor) tensors.set(tensor, { ...output, name: tensor });
            }
            if (waiting.size === 0 && running === 0) resolve(tensors);
            else launch();
          }, (error) => {
            running--;
            if (failed) return;
            failed = true;
            const e = VireoError.from(error);
            reject(new VireoError(e.code, `ensemble step ${step.index} (model "${step.model}") failed: ${e.message}`));
          });
        }
      };
      launch();
    });
  }
}
