/**
 * Which queued requests form the next batch, or how long to wait for a better one. Pure: given
 * the queue in dispatch order and the clock, it answers; the scheduler acts.
 *
 * Rules (Triton's dynamic batcher): requests never split; a batch holds only requests with the
 * same compatibility key as the oldest most-urgent request; it never exceeds max_batch_size; a
 * full batch or a preferred size goes at once (the largest preferred size reachable); otherwise
 * the batch waits until the oldest request has waited max_queue_delay, then goes as it is.
 */
import type { PendingRequest } from './pending-request.js';

export interface BatchPolicy {
  maxBatchSize: number;
  /** Ascending, each ≤ maxBatchSize. */
  preferred: number[];
  maxQueueDelayNs: number;
}

export type Plan = { requests: PendingRequest[]; wait?: undefined } | { wait: number; requests?: undefined };

export function choosePlan(queue: Iterable<PendingRequest>, policy: BatchPolicy | undefined, now: number, flush: boolean): Plan {
  const iterator = queue[Symbol.iterator]();
  const head = iterator.next();
  if (head.done) return { wait: Infinity };
  const first = head.value;
  if (!policy) return { requests: [first] };

  const candidates = [first];
  let items = first.items;
  for (let next = iterator.next(); !next.done && items < policy.maxBatchSize; next = iterator.next()) {
    const r = next.value;
    if (r.compatibilityKey !== first.compatibilityKey || items + r.items > policy.maxBatchSize) continue;
    candidates.push(r);
    items += r.items;
  }

  if (items >= policy.maxBatchSize) return { requests: candidates };
  const preferred = largestPreferredReachable(candidates, policy.preferred);
  const deadline = first.arrivalNs + policy.maxQueueDelayNs;
  if (preferred !== undefined && (preferred === policy.preferred.at(-1) || now >= deadline || flush)) {
    return { requests: takeExactly(candidates, preferred) };
  }
  if (now >= deadline || flush) return { requests: candidates };
  return { wait: deadline };
}

/** The largest preferred size that a prefix of the candidates fills exactly. */
function largestPreferredReachable(candidates: readonly PendingRequest[], preferred: readonly number[]): number | undefined {
  if (preferred.length === 0) return undefined;
  const reachable = new Set<number>();
  let sum = 0;
  for (const c of candidates) {
    sum += c.items;
    reachable.add(sum);
  }
  for (let i = preferred.length - 1; i >= 0; i--) if (reachable.has(preferred[i]!)) return preferred[i];
  return undefined;
}

function takeExactly(candidates: readonly PendingRequest[], size: number): PendingRequest[] {
  const out: PendingRequest[] = [];
  let sum = 0;
  for (const c of candidates) {
    if (sum >= size) break;
    out.push(c);
    sum += c.items;
  }
  return out;
}
