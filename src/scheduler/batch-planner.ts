/**
 * Which queued requests form the next batch, or until when to wait for a better one. Pure: given
 * the queue in dispatch order, the policy and the clock, it answers; the scheduler acts.
 *
 * Rules (Triton's dynamic batcher, DynamicBatchScheduler::GetDynamicBatch):
 * - requests never split and keep their queue order: the batch is a prefix of the queue, and it
 *   ends at the first request whose compatibility key (non-batch dims, outputs) differs from the
 *   head's or that would push it past max_batch_size;
 * - while the oldest request in that prefix has waited less than max_queue_delay, the largest
 *   preferred size reachable by a prefix goes at once; once the prefix outgrows the largest
 *   preferred size, what fits below it goes at once; otherwise the planner waits;
 * - once the delay has passed (or on flush), or when the prefix cannot grow (the next request has
 *   another shape or does not fit), the whole prefix goes, up to max_batch_size.
 * Without preferred sizes max_batch_size is the only preferred size, so a full batch goes at once.
 */
import type { PendingRequest } from './pending-request.js';

export interface BatchPolicy {
  maxBatchSize: number;
  /** Ascending, each ≤ maxBatchSize, never empty (default: [maxBatchSize]). */
  preferred: readonly number[];
  maxQueueDelayNs: number;
}

export type Plan = { requests: PendingRequest[]; wait?: undefined } | { wait: number; requests?: undefined };

const WAIT_FOREVER: Plan = { wait: Infinity };

/** Normalises Triton's configuration fields into a policy (preferred sizes sorted, bounded, deduplicated). */
export function batchPolicy(maxBatchSize: number, preferred: readonly number[], maxQueueDelayUs: number): BatchPolicy {
  const sizes = [...new Set(preferred.filter((p) => p >= 1 && p <= maxBatchSize))].sort((a, b) => a - b);
  return { maxBatchSize, preferred: sizes.length > 0 ? sizes : [maxBatchSize], maxQueueDelayNs: maxQueueDelayUs * 1000 };
}

export function choosePlan(queue: Iterable<PendingRequest>, policy: BatchPolicy | undefined, now: number, flush: boolean): Plan {
  const candidates: PendingRequest[] = [];
  const maxPreferred = policy ? policy.preferred[policy.preferred.length - 1]! : 0;
  let items = 0;
  let oldest = Infinity;
  /** Number of leading candidates that make the best batch to send before the delay passes (0: none yet). */
  let best = 0;
  /** The prefix cannot grow any more (a different shape or max_batch_size follows): waiting is pointless. */
  let blocked = false;
  for (const r of queue) {
    if (!policy) return { requests: [r] };
    if (candidates.length > 0) {
      if (r.compatibilityKey !== candidates[0]!.compatibilityKey) { blocked = true; break; }
      if (best === 0 && items + r.items > maxPreferred) best = candidates.length;
      if (items + r.items > policy.maxBatchSize) { blocked = true; break; }
    }
    candidates.push(r);
    items += r.items;
    if (r.arrivalNs < oldest) oldest = r.arrivalNs;
    if (policy.preferred.includes(items)) best = candidates.length;
  }
  if (candidates.length === 0) return WAIT_FOREVER;
  const policyOf = policy!;
  const deadline = oldest + policyOf.maxQueueDelayNs;
  const delayPassed = flush || now >= deadline;
  if (best > 0 && !delayPassed) return { requests: best === candidates.length ? candidates : candidates.slice(0, best) };
  if (delayPassed || blocked || items >= maxPreferred) return { requests: candidates };
  return { wait: deadline };
}
