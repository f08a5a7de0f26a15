/** The repository extension's index: one row per model version known, or per model without versions. */
import type { ModelIndexEntry } from '../core/inference.js';
import type { ModelEntry } from './model-entry.js';

export interface IndexOptions {
  /** Only READY rows (the extension's `ready` flag). */
  ready?: boolean;
  /** Only models meant to be served: not those never loaded, unloaded or evicted. */
  served?: boolean;
}

export function buildIndex(names: readonly string[], models: ReadonlyMap<string, ModelEntry>, options: IndexOptions, onDemand: boolean): ModelIndexEntry[] {
  const out: ModelIndexEntry[] = [];
  for (const name of [...names].sort()) {
    const entry = models.get(name);
    if (options.served && !entry?.wanted) continue;
    if (!entry) {
      out.push({ name, state: 'UNAVAILABLE', reason: onDemand ? 'not loaded (loads on first request)' : 'not loaded' });
      continue;
    }
    if (entry.versions.size === 0) out.push({ name, state: entry.state, reason: entry.reason ?? '' });
    for (const v of entry.sortedVersions()) {
      out.push({ name, version: v.version, state: v.state, reason: v.reason ?? '', ...(v.memoryBytes !== undefined ? { memoryBytes: v.memoryBytes } : {}) });
    }
  }
  return options.ready ? out.filter((e) => e.state === 'READY') : out;
}
