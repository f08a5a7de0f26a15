/**
 * The memory budget (`--model-memory-budget`): which idle models to unload, least recently used
 * first, so that a model of a given size fits. Pure, so the eviction order is testable on its own;
 * the repository supplies sizes (measured at load) and last-use ticks.
 */
import { VireoError } from '../core/errors.js';

export interface ResidentModel {
  name: string;
  /** Accounted memory of every loaded version of the model. */
  bytes: number;
  /** Monotonic tick of the last request (or load); lower = used longer ago. */
  lastUse: number;
  /** No request queued or running and no load or unload in progress. */
  idle: boolean;
}

export interface EvictionPlan {
  /** Names to unload, in order (least recently used first). */
  evict: string[];
  /** False when even evicting every idle model would not make room. */
  fits: boolean;
}

export function planEvictions(resident: readonly ResidentModel[], budget: number, incomingBytes: number): EvictionPlan {
  let used = resident.reduce((sum, m) => sum + m.bytes, 0);
  const evict: string[] = [];
  const candidates = resident.filter((m) => m.idle).sort((a, b) => a.lastUse - b.lastUse);
  for (const candidate of candidates) {
    if (used + incomingBytes <= budget) break;
    evict.push(candidate.name);
    used -= candidate.bytes;
  }
  return { evict, fits: used + incomingBytes <= budget };
}

export function tooLarge(name: string, bytes: number, budget: number, measured: boolean): VireoError {
  return new VireoError('VIREO_ERR_MODEL_TOO_LARGE', `model "${name}" ${measured ? 'uses' : 'needs at least'} ${bytes} bytes, more than the whole memory budget of ${budget} bytes (--model-memory-budget)`);
}

export function budgetExhausted(name: string, bytes: number, budget: number): VireoError {
  return new VireoError('VIREO_ERR_MEMORY_BUDGET_EXHAUSTED', `model "${name}" (about ${bytes} bytes) does not fit the memory budget of ${budget} bytes and every loaded model is busy; retry later`);
}

/** Resident set size of the whole process: every instance is a thread of it. */
export const residentBytes = (): number => process.memoryUsage.rss();
