/**
 * Triton's model warmup: every sample of `model_warmup` runs `count` times (at least once) on
 * every instance before the version reports READY, so the first real request does not pay for
 * lazy initialisation. Sample tensors are built from zeros, random values or a raw file under
 * `<model>/warmup/`; sizes are checked before anything is allocated.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { dataTypeInfo, type DataType } from '../core/datatypes.js';
import { VireoError } from '../core/errors.js';
import { toBFloat16Bits, toHalfBits } from '../core/half-float.js';
import { elementCount, unpackBytes, viewAs, type Tensor, type TensorData } from '../core/tensor.js';
import type { ModelInstance } from '../backends/backend.js';
import type { ModelConfig, WarmupSample } from './model-config.js';
import { existingInside, relativeSegments } from './safe-path.js';

/** Largest total input size of one warmup sample. */
const MAX_SAMPLE_BYTES = 256 * 1024 * 1024;

type InputSpec = WarmupSample['inputs'][string];

const invalid = (sample: WarmupSample, message: string): never => {
  throw new VireoError('VIREO_ERR_CONFIG_INVALID', `model_warmup "${sample.name}": ${message}`);
};

function randomValues(datatype: DataType, count: number): TensorData {
  if (datatype === 'BYTES') return Array.from({ length: count }, () => new TextEncoder().encode(Math.random().toString(36).slice(2)));
  const { array } = dataTypeInfo(datatype);
  const out = new array!(count);
  for (let i = 0; i < count; i++) {
    const r = Math.random();
    if (datatype === 'FP32' || datatype === 'FP64') out[i] = r;
    else if (datatype === 'FP16') out[i] = toHalfBits(r);
    else if (datatype === 'BF16') out[i] = toBFloat16Bits(r);
    else if (datatype === 'BOOL') out[i] = r < 0.5 ? 0 : 1;
    else if (datatype === 'INT64' || datatype === 'UINT64') out[i] = BigInt(Math.floor(r * 100)) as never;
    else out[i] = Math.floor(r * 100);
  }
  return out;
}

async function fileValues(sample: WarmupSample, spec: InputSpec, modelDir: string, itemCount: number, batch: number): Promise<TensorData> {
  const segments = relativeSegments(spec.input_data_file!, `model_warmup "${sample.name}" input_data_file`);
  const path = await existingInside(join(modelDir, 'warmup'), segments, `model_warmup "${sample.name}" input_data_file`);
  const { size } = await stat(path);
  if (size > MAX_SAMPLE_BYTES) invalid(sample, `${spec.input_data_file} is larger than ${MAX_SAMPLE_BYTES} bytes`);
  const bytes = new Uint8Array(await readFile(path));
  if (spec.data_type === 'BYTES') {
    const elements = unpackBytes(bytes, itemCount, `model_warmup "${sample.name}"`);
    return Array.from({ length: itemCount * batch }, (_, i) => elements[i % itemCount]!);
  }
  const itemBytes = itemCount * dataTypeInfo(spec.data_type).size;
  if (bytes.byteLength !== itemBytes && bytes.byteLength !== itemBytes * batch) {
    invalid(sample, `${spec.input_data_file} has ${bytes.byteLength} bytes; expected ${itemBytes} (one item) or ${itemBytes * batch} (the batch)`);
  }
  const whole = new Uint8Array(itemBytes * batch);
  for (let b = 0; b < batch; b++) whole.set(bytes.byteLength === itemBytes ? bytes : bytes.subarray(b * itemBytes, (b + 1) * itemBytes), b * itemBytes);
  return viewAs(spec.data_type, whole, itemCount * batch);
}

/** Checks a sample against the configuration and returns a function that builds fresh tensors. */
async function prepareSample(sample: WarmupSample, config: ModelConfig, modelDir: string): Promise<() => Tensor[]> {
  const batching = config.max_batch_size > 0;
  const batch = batching ? Math.max(1, sample.batch_size) : 1;
  if (batching && batch > config.max_batch_size) invalid(sample, `batch_size ${batch} is above max_batch_size ${config.max_batch_size}`);
  if (!batching && sample.batch_size > 1) invalid(sample, 'batch_size must be 0 or 1 for a model without batching');
  let total = 0;
  const builders: (() => Tensor)[] = [];
  for (const [name, spec] of Object.entries(sample.inputs)) {
    const input = config.input.find((i) => i.name === name);
    if (!input) invalid(sample, `unknown input "${name}" (the model has ${config.input.map((i) => i.name).join(', ')})`);
    if (input!.data_type !== spec.data_type) invalid(sample, `input "${name}" is ${input!.data_type}, not ${spec.data_type}`);
    const fits = spec.dims.length === input!.dims.length && spec.dims.every((d, i) => input!.dims[i] === -1 || input!.dims[i] === d);
    if (!fits) invalid(sample, `input "${name}" dims [${spec.dims.join(',')}] do not match the model's [${input!.dims.join(',')}]`);
    const itemCount = elementCount(spec.dims, `model_warmup "${sample.name}" input "${name}"`);
    total += itemCount * batch * Math.max(1, dataTypeInfo(spec.data_type).size);
    if (total > MAX_SAMPLE_BYTES) invalid(sample, `the sample is larger than ${MAX_SAMPLE_BYTES} bytes`);
    const shape = batching ? [batch, ...spec.dims] : [...spec.dims];
    const count = itemCount * batch;
    const fromFile = spec.input_data_file !== undefined ? await fileValues(sample, spec, modelDir, itemCount, batch) : undefined;
    builders.push(() => {
      let data: TensorData;
      if (fromFile) data = Array.isArray(fromFile) ? [...fromFile] : fromFile.slice();
      else if (spec.random_data) data = randomValues(spec.data_type, count);
      else data = spec.data_type === 'BYTES' ? Array.from({ length: count }, () => new Uint8Array(0)) : new (dataTypeInfo(spec.data_type).array!)(count);
      return { name, datatype: spec.data_type, shape, data };
    });
  }
  return () => builders.map((build) => build());
}

/** Runs every warmup sample on every instance; a failing sample fails the load with its reason. */
export async function runWarmup(config: ModelConfig, instances: readonly ModelInstance[], modelDir: string): Promise<number> {
  const samples = config.model_warmup ?? [];
  let executions = 0;
  for (const sample of samples) {
    const build = await prepareSample(sample, config, modelDir);
    const runs = Math.max(1, sample.count);
    await Promise.all(instances.map(async (instance) => {
      for (let i = 0; i < runs; i++) {
        try {
          await instance.execute(build(), []);
          executions++;
        } catch (error) {
          const e = VireoError.from(error);
          throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `model_warmup "${sample.name}" failed: ${e.message}`);
        }
      }
    }));
  }
  return executions;
}
