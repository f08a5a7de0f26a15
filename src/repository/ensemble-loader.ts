/**
 * Loading of ensembles, which own no instances: they are planned against the models already
 * loaded (so they load after them, ensembles of ensembles after their parts) and served by an
 * EnsembleRunner that calls each step through the facade.
 */
import { join } from 'node:path';
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ModelCall } from '../backends/backend.js';
import type { SchedulerRecorder } from '../scheduler/recorder.js';
import { readModelConfig } from './config-file.js';
import { planEnsemble, type StepModelLookup } from './ensemble-plan.js';
import { EnsembleRunner } from './ensemble-runner.js';
import type { ModelConfig, ParsedModelConfig } from './model-config.js';

export function loadEnsembleVersion(options: {
  name: string;
  parsed: ParsedModelConfig;
  lookup: StepModelLookup;
  callModel: ((call: ModelCall) => Promise<Tensor[]>) | undefined;
  recorder: SchedulerRecorder;
}): { config: ModelConfig; scheduler: EnsembleRunner; instances: [] } {
  if (!options.callModel) throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', 'ensembles need a server to route their steps (no callModel given to the repository)');
  const { config, steps } = planEnsemble(options.parsed, options.name, options.lookup);
  const scheduler = new EnsembleRunner(steps, config.output.map((o) => o.name), options.callModel, options.recorder);
  return { config, scheduler, instances: [] };
}

/**
 * Splits model names into plain models and ensembles, the ensembles ordered so that one using
 * another comes after it. A configuration that cannot be read counts as a plain model (its load
 * reports the problem).
 */
export async function partitionEnsembles(root: string, names: readonly string[]): Promise<{ models: string[]; ensembles: string[] }> {
  const uses = new Map<string, string[]>();
  for (const name of names) {
    try {
      const { config } = await readModelConfig(join(root, name));
      if (config.platform === 'ensemble') uses.set(name, (config.ensemble_scheduling?.step ?? []).map((s) => s.model_name));
    } catch {
      // reported when the model loads
    }
  }
  const ordered: string[] = [];
  const left = new Set(uses.keys());
  while (left.size > 0) {
    const next = [...left].find((e) => (uses.get(e) ?? []).every((m) => !left.has(m) || m === e)) ?? [...left][0]!;
    left.delete(next);
    ordered.push(next);
  }
  return { models: names.filter((n) => !uses.has(n)), ensembles: ordered };
}

/**
 * The models an ensemble's steps use (each once, in step order), from its configuration file; none
 * for a model that is not an ensemble or whose configuration cannot be read (its load reports that).
 */
export async function composingModels(root: string, name: string, override?: ParsedModelConfig): Promise<string[]> {
  let config: ParsedModelConfig;
  try {
    config = override ?? (await readModelConfig(join(root, name))).config;
  } catch {
    return [];
  }
  if (config.platform !== 'ensemble') return [];
  return [...new Set((config.ensemble_scheduling?.step ?? []).map((s) => s.model_name))];
}

/**
 * What Triton's explicit mode loads before an ensemble: the models its steps use, ensembles among them
 * with their own steps, each once, in load order (a step's steps first). Steps whose folder
 * `isModelFolder` denies are left out (the ensemble's own load reports them). Empty when the steps reach
 * the ensemble again (a cycle, which its own load reports): the caller loads them under the ensemble's
 * lock, and a concurrent load of the cycle's other end would then wait on it.
 */
export async function stepsToLoadFirst(root: string, name: string, override: ParsedModelConfig | undefined, isModelFolder: (name: string) => Promise<boolean>): Promise<string[]> {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  let cycle = false;
  const visit = async (model: string, config?: ParsedModelConfig): Promise<void> => {
    state.set(model, 'visiting');
    for (const step of await composingModels(root, model, config)) {
      const seen = state.get(step);
      if (seen === 'visiting') cycle = true;
      if (seen !== undefined || !(await isModelFolder(step))) continue;
      await visit(step);
      order.push(step);
    }
    state.set(model, 'done');
  };
  await visit(name, override);
  return cycle ? [] : order;
}
