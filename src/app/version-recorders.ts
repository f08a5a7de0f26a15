/**
 * Joins the optional per-version recorders (metrics, tracing) into the one extra recorder the
 * repository takes. Built once per version; with a single recorder it is returned as is.
 */
import type { VersionRecorder } from '../repository/model-repository.js';
import { forwardOptional, type BatchTimings, type RequestOutcome, type RequestTimings } from '../scheduler/recorder.js';

export function combineRecorders(recorders: readonly (VersionRecorder | undefined)[]): VersionRecorder | undefined {
  const list = recorders.filter((r): r is VersionRecorder => r !== undefined);
  if (list.length <= 1) return list[0];
  return {
    request(outcome: RequestOutcome, items: number, totalNs: number, timings: RequestTimings | undefined, reason?: string) {
      for (const r of list) r.request(outcome, items, totalNs, timings, reason);
    },
    batch(timings: BatchTimings, traces?: readonly unknown[]) {
      for (const r of list) r.batch(timings, traces);
    },
    pending(count: number) {
      for (const r of list) r.pending(count);
    },
    busy(count: number) {
      for (const r of list) r.busy(count);
    },
    loaded(seconds: number) {
      for (const r of list) r.loaded?.(seconds);
    },
    unloaded() {
      for (const r of list) r.unloaded?.();
    },
    ...forwardOptional(list),
  };
}
