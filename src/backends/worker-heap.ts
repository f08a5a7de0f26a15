/**
 * V8 heap limits of Vireo's worker threads. A worker's young generation grows to V8's default maximum
 * (3 × 16 MiB semi-spaces) while its modules load and is never given back, though a worker allocates
 * little JavaScript afterwards: tensors live in ArrayBuffers, outside the V8 heap. Capping it keeps that
 * start-up burst from staying resident in every worker — measured ≈ 5.5 MiB per worker on
 * examples/models (README, "Many models per server"); a worker that allocates more pays a few more
 * scavenges, each proportional to what survives, not to the cap.
 * `VIREO_WORKER_YOUNG_GENERATION_MB` overrides the cap (0: V8's default).
 */
import type { ResourceLimits } from 'node:worker_threads';

export const DEFAULT_WORKER_YOUNG_GENERATION_MB = 6;

function youngGenerationMb(): number | undefined {
  const configured = process.env.VIREO_WORKER_YOUNG_GENERATION_MB;
  const mb = configured === undefined || configured === '' ? DEFAULT_WORKER_YOUNG_GENERATION_MB : Number(configured);
  return Number.isFinite(mb) && mb > 0 ? mb : undefined;
}

/** The resourceLimits of a worker thread, with `maxOldGenerationSizeMb` when a heap bound is given. */
export function workerResourceLimits(oldGenerationMb?: number): ResourceLimits | undefined {
  const young = youngGenerationMb();
  const limits: ResourceLimits = {
    ...(young !== undefined ? { maxYoungGenerationSizeMb: young } : {}),
    ...(oldGenerationMb ? { maxOldGenerationSizeMb: oldGenerationMb } : {}),
  };
  return Object.keys(limits).length > 0 ? limits : undefined;
}
