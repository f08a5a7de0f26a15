/**
 * Features of a batch run as wrappers around the facade's `infer` (the shape of undici's
 * interceptors), so `runRows` stays one loop whatever the frontend wants:
 * - `inBackground`: every request goes to the scheduler's background level, behind every priority
 *   level real-time requests use (scheduler.ts), so a job only fills idle capacity;
 * - `retryingTransient`: refusals that say "not now" rather than "never" are retried after a pause.
 */
import { VireoError, type ErrorCode } from '../core/errors.js';
import type { InferFacade } from './run-rows.js';

export function inBackground(facade: InferFacade): InferFacade {
  return { infer: (request) => facade.infer({ ...request, background: true }) };
}

/** A full queue, a model (re)loading, an exhausted memory budget: they pass. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set(['VIREO_ERR_QUEUE_FULL', 'VIREO_ERR_MODEL_NOT_READY', 'VIREO_ERR_MEMORY_BUDGET_EXHAUSTED']);

export interface RetryOptions {
  /**
   * How long the model may keep refusing before requests fail with its refusal. The window is
   * shared by every request of the run: it opens at the first refusal and closes at the next
   * success, so a model that stays away costs one window, not one per request.
   */
  windowMs: number;
  /** Aborted: no more retries (the refusal is returned at once). */
  signal?: AbortSignal;
}

const MAX_PAUSE_MS = 2000;

export function retryingTransient(facade: InferFacade, options: RetryOptions): InferFacade {
  let refusingSince: number | undefined;
  return {
    async infer(request) {
      for (let pause = 50; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
        try {
          const response = await facade.infer(request);
          refusingSince = undefined;
          return response;
        } catch (thrown) {
          const error = VireoError.from(thrown);
          if (!TRANSIENT.has(error.code) || options.signal?.aborted) throw error;
          refusingSince ??= Date.now();
          const left = refusingSince + options.windowMs - Date.now();
          if (left <= 0) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
        }
      }
    },
  };
}
