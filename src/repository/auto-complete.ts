/**
 * Completes a partial configuration from what the model file says about itself (Triton's
 * auto-complete), then checks the result against the model: every configured tensor must exist
 * with the same datatype and compatible dims. With auto-complete off, the config must be whole.
 */
import { VireoError } from '../core/errors.js';
import type { ModelSignature, SignatureTensor } from '../backends/backend.js';
import type { ModelConfig, ParsedModelConfig, TensorConfig } from './model-config.js';
import { checkSequenceConfig, implicitTensors } from './sequence-setup.js';

export interface CompleteOptions {
  modelName: string;
  autoComplete: boolean;
  /** max_batch_size chosen when the model's first dimension is dynamic (Triton's default is 4). */
  defaultMaxBatchSize: number;
  /** The file the loader actually found when the configuration names none. */
  defaultFilename?: string;
}

const fail = (message: string): never => {
  throw new VireoError('VIREO_ERR_CONFIG_INVALID', message);
};

function supported(t: SignatureTensor, role: string): SignatureTensor & { datatype: NonNullable<SignatureTensor['datatype']> } {
  if (!t.datatype) fail(`${role} ${t.name} has datatype ${t.rawType}, which Vireo does not support`);
  return t as SignatureTensor & { datatype: NonNullable<SignatureTensor['datatype']> };
}

function batchable(signature: ModelSignature): boolean {
  const all = [...signature.inputs, ...signature.outputs];
  return all.length > 0 && all.every((t) => t.dims.length > 0 && t.dims[0] === -1);
}

function fromSignature(t: SignatureTensor, maxBatchSize: number, role: string): TensorConfig {
  const s = supported(t, role);
  return { name: s.name, data_type: s.datatype, dims: maxBatchSize > 0 ? s.dims.slice(1) : [...s.dims] };
}

function dimsCompatible(configured: readonly number[], actual: readonly number[]): boolean {
  return configured.length === actual.length && configured.every((d, i) => d === -1 || actual[i] === -1 || d === actual[i]);
}

function checkTensors(configured: TensorConfig[], actual: SignatureTensor[], maxBatchSize: number, role: string): void {
  for (const c of configured) {
    const a = actual.find((t) => t.name === c.name);
    if (!a) fail(`${role} "${c.name}" is in the configuration but not in the model (the model has ${actual.map((t) => t.name).join(', ') || 'none'})`);
    const s = supported(a!, role);
    if (s.datatype !== c.data_type) fail(`${role} "${c.name}": configured as ${c.data_type} but the model says ${s.datatype}`);
    const modelDims = maxBatchSize > 0 ? s.dims.slice(1) : s.dims;
    const shapeSeen = c.reshape?.shape ?? c.dims;
    if (maxBatchSize > 0 && s.dims.length > 0 && s.dims[0] !== -1) {
      fail(`${role} "${c.name}": max_batch_size is ${maxBatchSize} but the model's first dimension is fixed at ${s.dims[0]}`);
    }
    if (!dimsCompatible(shapeSeen, modelDims)) {
      fail(`${role} "${c.name}": configured dims [${shapeSeen.join(',')}] do not match the model's [${modelDims.join(',')}]${maxBatchSize > 0 ? ' (batch dimension excluded)' : ''}`);
    }
  }
}

export function completeConfig(parsed: ParsedModelConfig, signature: ModelSignature, options: CompleteOptions): ModelConfig {
  if (parsed.name !== undefined && parsed.name !== options.modelName) {
    fail(`name "${parsed.name}" does not match the model directory "${options.modelName}"`);
  }
  if (!options.autoComplete) {
    if (parsed.max_batch_size === undefined) fail('max_batch_size is required when auto-complete is disabled');
    if (!parsed.input?.length) fail('input is required when auto-complete is disabled');
    if (!parsed.output?.length) fail('output is required when auto-complete is disabled');
  }
  const maxBatchSize = parsed.max_batch_size ?? (batchable(signature) ? options.defaultMaxBatchSize : 0);
  // Control and state tensors of a stateful model are the server's business, not the client's.
  const implicit = implicitTensors(parsed);
  const complete = (configured: TensorConfig[] | undefined, actual: SignatureTensor[], role: string): TensorConfig[] => {
    const given = configured ?? [];
    if (!options.autoComplete) return given;
    const hidden = role === 'input' ? implicit.inputs : implicit.outputs;
    const missing = actual.filter((t) => !hidden.has(t.name) && !given.some((c) => c.name === t.name)).map((t) => fromSignature(t, maxBatchSize, role));
    return [...given, ...missing];
  };
  const typescript = parsed.backend === 'typescript';
  const config: ModelConfig = {
    ...parsed,
    name: options.modelName,
    backend: typescript ? 'typescript' : 'onnx',
    platform: typescript ? undefined : 'onnxruntime_onnx',
    max_batch_size: maxBatchSize,
    input: complete(parsed.input, signature.inputs, 'input'),
    output: complete(parsed.output, signature.outputs, 'output'),
    instance_group: parsed.instance_group?.length ? parsed.instance_group : [{ count: 1, kind: 'KIND_CPU' }],
    version_policy: parsed.version_policy ?? { latest: { num_versions: 1 } },
    default_model_filename: parsed.default_model_filename ?? options.defaultFilename ?? 'model.onnx',
  };
  checkTensors(config.input, signature.inputs, maxBatchSize, 'input');
  checkTensors(config.output, signature.outputs, maxBatchSize, 'output');
  const missingInputs = signature.inputs.filter((t) => !implicit.inputs.has(t.name) && !config.input.some((c) => c.name === t.name));
  if (missingInputs.length > 0) fail(`the model needs input ${missingInputs.map((t) => `"${t.name}"`).join(', ')}, which the configuration does not list`);
  if (config.dynamic_batching && maxBatchSize === 0) fail('dynamic_batching needs max_batch_size > 0');
  checkSequenceConfig(config, signature);
  return config;
}
