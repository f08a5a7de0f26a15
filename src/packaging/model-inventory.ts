/**
 * What a model repository holds, as packaging needs it: each model's name, the versions its policy serves
 * and its model format (KServe's `onnx`, or `vireo` for a handler model). Read once at build/generate time;
 * nothing is loaded into onnxruntime.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readModelConfig } from '../repository/config-file.js';
import { isValidModelName } from '../repository/model-repository.js';
import { listVersions, selectVersions } from '../repository/version-policy.js';
import { PackagingError } from './packaging-error.js';

export type ModelFormat = 'onnx' | 'vireo';

export interface ModelSummary {
  name: string;
  /** Versions the model's version_policy serves, ascending. */
  versions: number[];
  format: ModelFormat;
  /** A handler (which may call any model) or an ensemble: its server needs the other models loaded too. */
  callsOtherModels: boolean;
}

const HANDLER_FILES = ['model.ts', 'model.js', 'model.mjs'];

async function formatOf(modelDir: string, versions: readonly number[]): Promise<ModelFormat> {
  for (const version of versions) {
    const files = await readdir(join(modelDir, String(version)));
    if (files.some((f) => HANDLER_FILES.includes(f))) return 'vireo';
  }
  return 'onnx';
}

/**
 * Lists the models of `repository` (sorted by name), or only `only` when given: every named model must exist.
 * A model without any version directory is refused: an image or manifest for it would serve nothing.
 */
export async function inventory(repository: string, only: readonly string[] = []): Promise<ModelSummary[]> {
  let entries;
  try {
    entries = await readdir(repository, { withFileTypes: true });
  } catch (error) {
    throw new PackagingError(`cannot read model repository ${repository}: ${(error as Error).message}`);
  }
  const names = entries.filter((e) => e.isDirectory() && isValidModelName(e.name)).map((e) => e.name).sort();
  const missing = only.filter((m) => !names.includes(m));
  if (missing.length > 0) {
    throw new PackagingError(`model(s) not in ${repository}: ${missing.join(', ')} (found: ${names.join(', ') || 'none'})`);
  }
  const chosen = only.length > 0 ? names.filter((n) => only.includes(n)) : names;
  if (chosen.length === 0) throw new PackagingError(`no models in ${repository}`);
  const models: ModelSummary[] = [];
  for (const name of chosen) {
    const dir = join(repository, name);
    const available = await listVersions(dir);
    if (available.length === 0) throw new PackagingError(`model ${name} has no version directory (<model>/<n>/)`);
    let config;
    try {
      config = (await readModelConfig(dir)).config;
    } catch (error) {
      throw new PackagingError(`model ${name}: ${(error as Error).message}`);
    }
    const policy = config.version_policy;
    const versions = policy ? selectVersions(available, policy as never) : available.slice(-1);
    const format = await formatOf(dir, versions);
    models.push({ name, versions, format, callsOtherModels: format === 'vireo' || config.ensemble_scheduling !== undefined });
  }
  return models;
}
