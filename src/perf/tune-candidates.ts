/**
 * The configurations `vireo tune` tries: instance count × max_batch_size × max_queue_delay, plus
 * adaptive batching (docs/adaptive-batching.md) per instance count and batch size. Each is the
 * model's own configuration with only those fields replaced, so everything else (inputs, outputs,
 * parameters, warmup) is measured as it will be served.
 */
export interface Candidate {
  instances: number;
  maxBatchSize: number;
  /** Microseconds; undefined with adaptive batching. */
  queueDelayUs?: number;
  /** Adaptive batching's target p99 in ms. */
  adaptiveTargetMs?: number;
}

export interface GridOptions {
  instanceCounts: number[];
  maxBatchSizes: number[];
  queueDelaysUs: number[];
  adaptive: boolean;
  /** The target for adaptive candidates (the SLO when one is given). */
  adaptiveTargetMs: number;
  /** The model's configured max_batch_size: 0 means it does not batch, so batching is not swept. */
  configuredMaxBatchSize: number;
}

export function candidateLabel(c: Candidate): string {
  const batching = c.maxBatchSize <= 1
    ? c.maxBatchSize === 0 ? 'no batching' : 'batch 1'
    : c.adaptiveTargetMs !== undefined ? `batch ≤${c.maxBatchSize}, adaptive ${c.adaptiveTargetMs} ms` : `batch ≤${c.maxBatchSize}, delay ${c.queueDelayUs} µs`;
  return `${c.instances} inst, ${batching}`;
}

export function candidateGrid(options: GridOptions): Candidate[] {
  const sizes = options.configuredMaxBatchSize === 0 ? [0] : [...new Set(options.maxBatchSizes)].sort((a, b) => a - b);
  const candidates: Candidate[] = [];
  for (const instances of [...new Set(options.instanceCounts)].sort((a, b) => a - b)) {
    for (const maxBatchSize of sizes) {
      // Without batching, waiting for a batch is pointless: one candidate, no delay.
      if (maxBatchSize <= 1) {
        candidates.push({ instances, maxBatchSize, queueDelayUs: 0 });
        continue;
      }
      for (const queueDelayUs of [...new Set(options.queueDelaysUs)].sort((a, b) => a - b)) candidates.push({ instances, maxBatchSize, queueDelayUs });
      if (options.adaptive) candidates.push({ instances, maxBatchSize, adaptiveTargetMs: options.adaptiveTargetMs });
    }
  }
  return candidates;
}

/** The model's configuration (as parsed from its file) with the candidate's fields in place. */
export function applyCandidate(config: Record<string, any>, c: Candidate): Record<string, any> {
  const out: Record<string, any> = structuredClone(config);
  const group = Array.isArray(out.instance_group) && out.instance_group.length > 0 ? out.instance_group[0] : { kind: 'KIND_CPU' };
  out.instance_group = [{ ...group, count: c.instances }];
  out.max_batch_size = c.maxBatchSize;
  if (c.maxBatchSize <= 1) {
    delete out.dynamic_batching;
    return out;
  }
  const { adaptive: _adaptive, max_queue_delay_microseconds: _delay, preferred_batch_size: _preferred, ...rest } = out.dynamic_batching ?? {};
  out.dynamic_batching = c.adaptiveTargetMs !== undefined
    ? { ...rest, adaptive: { target_latency_ms: c.adaptiveTargetMs } }
    : { ...rest, max_queue_delay_microseconds: c.queueDelayUs };
  return out;
}
