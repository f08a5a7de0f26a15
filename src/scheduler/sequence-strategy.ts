/**
 * How a sequence batcher's strategy (Triton's sequence_batching.direct / .oldest) becomes inner
 * Schedulers and slots. Direct: max_batch_size slots per instance, one inner Scheduler per instance,
 * so a sequence always runs on the same instance. Oldest: max_candidate_sequences slots over one inner
 * Scheduler whose dynamic batcher takes the oldest ready steps.
 */
import type { ModelInstance } from '../backends/backend.js';
import type { DynamicBatchingConfig } from './scheduler.js';

export type SequenceStrategy =
  | { kind: 'direct'; maxQueueDelayUs: number; minimumSlotUtilization: number }
  | { kind: 'oldest'; maxCandidateSequences: number; preferredBatchSize: number[]; maxQueueDelayUs: number; preserveOrdering: boolean };

export interface InnerSchedulerPlan {
  /** The instances of each inner Scheduler. */
  groups: (readonly ModelInstance[])[];
  /** The inner Schedulers' dynamic batching; undefined for a model that does not batch. */
  dynamicBatching: DynamicBatchingConfig | undefined;
  /** Sequence slots in all; slot s belongs to inner Scheduler floor(s / slotsPerScheduler). */
  slots: number;
  slotsPerScheduler: number;
}

export function innerSchedulerPlan(instances: readonly ModelInstance[], maxBatchSize: number, s: SequenceStrategy): InnerSchedulerPlan {
  const perBatch = Math.max(1, maxBatchSize);
  const groups = s.kind === 'direct' ? instances.map((i) => [i]) : [instances];
  const dynamicBatching: DynamicBatchingConfig | undefined = maxBatchSize <= 0 ? undefined : {
    preferred_batch_size: s.kind === 'oldest' ? s.preferredBatchSize
      : s.minimumSlotUtilization > 0 ? [Math.max(1, Math.ceil(s.minimumSlotUtilization * perBatch))] : [],
    // Triton's direct strategy waits only when a minimum slot utilization is asked for.
    max_queue_delay_microseconds: s.kind === 'oldest' || s.minimumSlotUtilization > 0 ? s.maxQueueDelayUs : 0,
    preserve_ordering: s.kind === 'oldest' && s.preserveOrdering,
    priority_levels: 0,
    default_priority_level: 0,
  };
  const slots = s.kind === 'direct' ? perBatch * instances.length : (s.maxCandidateSequences || perBatch * instances.length);
  return { groups, dynamicBatching, slots, slotsPerScheduler: s.kind === 'direct' ? perBatch : slots };
}
