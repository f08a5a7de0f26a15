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
