/**
 * Checks an ensemble (Triton's ensemble_scheduling) when it loads, so a bad pipeline never serves:
 * every step names a loaded model and maps each of its required inputs, every tensor a step reads
 * is an ensemble input or another step's output, no tensor is produced twice, every ensemble
 * output is produced, the steps form no cycle, and no step leads back to the ensemble through other
 * ensembles. The result is the complete configuration.
 */
import { VireoError } from '../core/errors.js';
import type { EnsembleStepConfig, ModelConfig, ParsedModelConfig } from './model-config.js';

export interface EnsembleStep {
  index: number;
  model: string;
  /** Undefined: the model's latest ready version (model_version -1). */
  version: string | undefined;
  /** Step model input → ensemble tensor. */
  inputMap: Record<string, string>;
  /** Step model output → ensemble tensor. */
  outputMap: Record<string, string>;
}

/** Configuration of a step's model: undefined when the repository has no such model. Throws when it is not ready. */
export type StepModelLookup = (model: string, version: string | undefined) => ModelConfig | undefined;

const fail = (name: string, message: string): never => {
  throw new VireoError('VIREO_ERR_CONFIG_INVALID', `ensemble "${name}": ${message}`);
};

function stepOf(config: EnsembleStepConfig, index: number): EnsembleStep {
  return {
    index,
    model: config.model_name,
    version: config.model_version >= 1 ? String(config.model_version) : undefined,
    inputMap: config.input_map,
    outputMap: config.output_map,
  };
}

function checkStep(name: string, step: EnsembleStep, lookup: StepModelLookup): void {
  const where = `step ${step.index} (model "${step.model}")`;
  if (step.model === name) fail(name, `${where} calls the ensemble itself`);
  let config: ModelConfig | undefined;
  try {
    config = lookup(step.model, step.version);
  } catch (error) {
    fail(name, `${where} cannot be used: ${VireoError.from(error).message}`);
  }
  if (!config) return fail(name, `${where}: the repository has no model "${step.model}"`);
  for (const input of Object.keys(step.inputMap)) {
    if (!config.input.some((i) => i.name === input)) fail(name, `${where}: input_map names "${input}", which is not an input of that model`);
  }
  const unmapped = config.input.filter((i) => !i.optional && step.inputMap[i.name] === undefined);
  if (unmapped.length > 0) fail(name, `${where}: input ${unmapped.map((i) => `"${i.name}"`).join(', ')} is not mapped in input_map`);
  for (const output of Object.keys(step.outputMap)) {
    if (!config.output.some((o) => o.name === output)) fail(name, `${where}: output_map names "${output}", which is not an output of that model`);
  }
  if (Object.keys(step.outputMap).length === 0) fail(name, `${where}: output_map is empty, so the step contributes nothing`);
}

/**
 * The ensembles from `model` that lead back to `name` (as served now), or undefined. A reload can
 * close such a loop (a config override makes a model that an ensemble uses an ensemble over it), and a
 * request would then call through it forever, starving the event loop; Triton refuses it too.
 */
function pathBack(name: string, model: string, version: string | undefined, lookup: StepModelLookup, seen: Set<string>): string[] | undefined {
  if (model === name) return [];
  if (seen.has(model)) return undefined;
  seen.add(model);
  let config: ModelConfig | undefined;
  try {
    config = lookup(model, version);
  } catch {
    return undefined; // not ready: it routes nowhere now (checkStep reports a step that cannot be used)
  }
  for (const next of config?.ensemble_scheduling?.step ?? []) {
    const path = pathBack(name, next.model_name, next.model_version >= 1 ? String(next.model_version) : undefined, lookup, seen);
    if (path) return [model, ...path];
  }
  return undefined;
}

/** Steps in an order that respects their data dependencies; a cycle is an error naming its steps. */
function order(name: string, steps: EnsembleStep[], inputs: readonly string[]): EnsembleStep[] {
  const available = new Set(inputs);
  const remaining = [...steps];
  const sorted: EnsembleStep[] = [];
  while (remaining.length > 0) {
    const ready = remaining.findIndex((s) => Object.values(s.inputMap).every((t) => available.has(t)));
    if (ready === -1) {
      fail(name, `steps ${remaining.map((s) => `${s.index} ("${s.model}")`).join(', ')} depend on each other in a cycle`);
    }
    const [step] = remaining.splice(ready, 1);
    for (const tensor of Object.values(step!.outputMap)) available.add(tensor);
    sorted.push(step!);
  }
  return sorted;
}

export function planEnsemble(parsed: ParsedModelConfig, name: string, lookup: StepModelLookup): { config: ModelConfig; steps: EnsembleStep[] } {
  const scheduling = parsed.ensemble_scheduling;
  if (!scheduling) return fail(name, 'platform "ensemble" needs ensemble_scheduling with at least one step');
  if (!parsed.input?.length || !parsed.output?.length) fail(name, 'an ensemble must declare its input and output (they cannot be auto-completed)');
  const inputs = parsed.input!.map((i) => i.name);
  const steps = scheduling.step.map(stepOf);
  for (const step of steps) checkStep(name, step, lookup);
  for (const step of steps) {
    const path = pathBack(name, step.model, step.version, lookup, new Set());
    if (path) fail(name, `step ${step.index} (model "${step.model}") leads back to the ensemble (${[name, ...path, name].map((m) => `"${m}"`).join(' → ')}): ensembles may not call each other in a cycle`);
  }

  const producer = new Map<string, string>(inputs.map((t) => [t, 'an ensemble input']));
  for (const step of steps) {
    for (const tensor of Object.values(step.outputMap)) {
      const previous = producer.get(tensor);
      if (previous) fail(name, `tensor "${tensor}" is produced by both ${previous} and step ${step.index}`);
      producer.set(tensor, `step ${step.index}`);
    }
  }
  for (const step of steps) {
    for (const [input, tensor] of Object.entries(step.inputMap)) {
      if (!producer.has(tensor)) fail(name, `step ${step.index} reads tensor "${tensor}" (for input "${input}"), which no ensemble input or step produces`);
    }
  }
  for (const output of parsed.output!) {
    if (!producer.has(output.name)) fail(name, `output "${output.name}" is not produced by any step's output_map`);
  }
  const sorted = order(name, steps, inputs);
  const config: ModelConfig = {
    ...parsed,
    name,
    backend: '',
    platform: 'ensemble',
    max_batch_size: parsed.max_batch_size ?? 0,
    input: parsed.input!,
    output: parsed.output!,
    instance_group: [],
    version_policy: parsed.version_policy ?? { latest: { num_versions: 1 } },
    default_model_filename: '',
  };
  return { config, steps: sorted };
}
