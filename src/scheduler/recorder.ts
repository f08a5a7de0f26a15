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
  /** Sequence batching: sequences holding a slot and waiting for one changed. */
  sequences?(active: number, backlog: number): void;
  /** Sequence batching: a sequence started. */
  sequenceStarted?(): void;
  /** Sequence batching: a sequence ended (its END step ran) or was released idle. */
  sequenceEnded?(why: 'ended' | 'idle'): void;
  /** Response cache: a request was answered from the cache after `ns` of lookup. */
  cacheHit?(ns: number): void;
  /** Response cache: a cacheable request was not found (`ns`: lookup plus insertion). */
  cacheMiss?(ns: number): void;
}

/** The optional reports, forwarded by recorders that fan out to others. */
export const OPTIONAL_REPORTS = ['sequences', 'sequenceStarted', 'sequenceEnded', 'cacheHit', 'cacheMiss'] as const;

/** A recorder's optional reports sent to each recorder of `list` that has them. */
export function forwardOptional(list: readonly SchedulerRecorder[]): Pick<SchedulerRecorder, typeof OPTIONAL_REPORTS[number]> {
  const out: Record<string, (...args: never[]) => void> = {};
  for (const name of OPTIONAL_REPORTS) {
    const targets = list.filter((r) => typeof r[name] === 'function');
    if (targets.length === 0) continue;
    out[name] = (...args: never[]) => { for (const r of targets) (r[name] as (...a: never[]) => void)(...args); };
  }
  return out;
}

export const NOOP_RECORDER: SchedulerRecorder = {
  request() {},
  batch() {},
  pending() {},
  busy() {},
};

export const nowNs = (): number => Number(process.hrtime.bigint());
