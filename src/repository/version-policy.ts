/** Which version directories of a model are served, per Triton's version_policy. */
import { readdir } from 'node:fs/promises';
import type { ModelConfig } from './model-config.js';

/** Version directories: names that are positive integers without leading zeros. */
export async function listVersions(modelDir: string): Promise<number[]> {
  const entries = await readdir(modelDir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory() && /^[1-9]\d*$/.test(e.name) && Number.isSafeInteger(Number(e.name)))
    .map((e) => Number(e.name))
    .sort((a, b) => a - b);
}

export function selectVersions(available: readonly number[], policy: ModelConfig['version_policy']): number[] {
  if ('all' in policy) return [...available];
  if ('specific' in policy) return available.filter((v) => policy.specific.versions.includes(v));
  return available.slice(-policy.latest.num_versions);
}
