/**
 * One planned batch on one instance: its requests' inputs concatenated along dim 0 (when the model
 * batches), one execute call, each request's rows sliced back out as views — and the time of each
 * step, which statistics, metrics, tracing and adaptive batching report. Never throws: a failure is
 * the batch's outcome, settled on every request by the scheduler.
 */
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ModelInstance } from '../backends/backend.js';
import { concatInputs, sliceOutputs } from './batch-tensors.js';
import { executeContext } from './execute-context.js';
import type { PendingRequest } from './pending-request.js';
import { nowNs } from './recorder.js';

/** Per request, in the batch's order; or the error every request of the batch fails with. */
export type BatchOutcome = { outputs: Tensor[][] } | { error: VireoError };

export interface BatchTimings {
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
}

/**
 * Runs `requests` as one batch of `batchItems` items (their sum) on `instance`; `start` is when the
 * batch left the queue (ns).
 */
export async function executeBatch(instance: ModelInstance, requests: readonly PendingRequest[], batchItems: number, batched: boolean, start: number): Promise<{ outcome: BatchOutcome; timings: BatchTimings }> {
  const timings: BatchTimings = { computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 };
  try {
    const inputs = concatInputs(requests, batched);
    const inferStart = nowNs();
    timings.computeInputNs = inferStart - start;
    const outputs = await instance.execute(inputs, requests[0]!.outputs, executeContext(requests, inferStart));
    const outputStart = nowNs();
    timings.computeInferNs = outputStart - inferStart;
    let split: Tensor[][];
    if (requests.length === 1) split = [outputs];
    else {
      let offset = 0;
      split = requests.map((r) => {
        const own = sliceOutputs(outputs, offset, r.items, batchItems);
        offset += r.items;
        return own;
      });
    }
    timings.computeOutputNs = nowNs() - outputStart;
    return { outcome: { outputs: split }, timings };
  } catch (error) {
    return { outcome: { error: VireoError.from(error) }, timings };
  }
}

/** With preserve_ordering, responses leave in dispatch order whatever instance finished first. */
export class ResponseOrder {
  readonly #preserve: boolean;
  #last: Promise<void> = Promise.resolve();

  constructor(preserve: boolean) {
    this.#preserve = preserve;
  }

  /** A batch's turn: await `previous` before settling its requests, then call `done`. */
  take(): { previous: Promise<void> | undefined; done: () => void } {
    if (!this.#preserve) return { previous: undefined, done: () => {} };
    const previous = this.#last;
    let done!: () => void;
    this.#last = new Promise((resolve) => { done = resolve; });
    return { previous, done };
  }
}
