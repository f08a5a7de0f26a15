/**
 * What the scheduler reports about each request and batch. Statistics and metrics implement it;
 * the scheduler never imports either. Durations are nanoseconds (bigint-free numbers: below 2^53).
 */
export type RequestOutcome = 'success' | 'failure';

export interface RequestTimings {
  queueNs: number;
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
}

export interface BatchTimings {
  batchSize: number;
  /** When the batch started (nowNs clock): the end of its requests' queueing. */
  startNs: number;
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
}

export interface SchedulerRecorder {
  /** A request finished; `items` is its own batch size. `reason` is an error code on failure. */
  request(outcome: RequestOutcome, items: number, totalNs: number, timings: RequestTimings | undefined, reason?: string): void;
  /**
   * One backend execution of `batchSize` items. `traces` holds the opaque trace handles of the
   * requests in the batch that carry one (ScheduleOptions.trace), in batch order; it is undefined
   * when none does, so an untraced batch allocates nothing for tracing.
   */
  batch(timings: BatchTimings, traces?: readonly unknown[]): void;
  /** Requests queued or executing changed. */
  pending(count: number): void;
  /** Instances busy changed. */
  busy(count: number): void;
}

export const NOOP_RECORDER: SchedulerRecorder = {
  request() {},
  batch() {},
  pending() {},
  busy() {},
};

export const nowNs = (): number => Number(process.hrtime.bigint());
