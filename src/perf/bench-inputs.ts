/**
 * The requests `vireo bench` sends, built once before the load starts: inputs from the model's
 * metadata (variable dimensions from `--shape`, the batch dimension from `--batch-size`) filled
 * with random or zero data, or read from a file — perf_analyzer's `{"data": [{"INPUT0": [...]}]}`
 * (each entry one request, sent in turn) or an OIP request body `{"inputs": [...]}`.
 */
import { readFileSync } from 'node:fs';
import type { DataType } from '../core/datatypes.js';
import type { ModelMetadata } from '../core/inference.js';
import { jsonToTensorData } from '../core/json-tensors.js';
import type { InferInput } from '../client/types.js';

export type InputData = 'random' | 'zero' | { file: string };

export interface InputOptions {
  data: InputData;
  /** NAME → dims without the batch dimension, for inputs with variable dimensions. */
  shapes: Record<string, number[]>;
  /** Rows per request when the model batches (max_batch_size > 0). */
  batchSize: number;
  /** From the model configuration; 0: the metadata shape is the request shape. */
  maxBatchSize: number;
}

/** Largest request `vireo bench` builds, so a mistyped shape fails fast instead of exhausting memory. */
const MAX_ELEMENTS = 64 * 1024 * 1024;

export class BenchInputError extends Error {}

function requestShape(name: string, metadataShape: number[], options: InputOptions): number[] {
  const batched = options.maxBatchSize > 0;
  const dims = batched ? metadataShape.slice(1) : metadataShape;
  const given = options.shapes[name];
  if (given && given.length !== dims.length) throw new BenchInputError(`--shape ${name}: the model's input has ${dims.length} dimensions (without the batch), got ${given.length}`);
  const shape = dims.map((d, i) => {
    if (given) {
      if (d >= 0 && given[i] !== d) throw new BenchInputError(`--shape ${name}: dimension ${i} is fixed at ${d}, got ${given[i]}`);
      return given[i]!;
    }
    if (d < 0) throw new BenchInputError(`input "${name}" has a variable dimension ([${metadataShape.join(', ')}]); give its shape with --shape ${name}:${dims.map((x) => (x < 0 ? 'N' : x)).join(',')}`);
    return d;
  });
  return batched ? [options.batchSize, ...shape] : shape;
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function generated(datatype: DataType, n: number, kind: 'random' | 'zero'): unknown[] {
  if (kind === 'zero') return Array.from({ length: n }, () => (datatype === 'BYTES' ? '0' : datatype === 'BOOL' ? false : 0));
  switch (datatype) {
    case 'BOOL': return Array.from({ length: n }, () => Math.random() < 0.5);
    case 'BYTES': return Array.from({ length: n }, () => Math.random().toString(36).slice(2, 10));
    case 'FP16': case 'BF16': case 'FP32': case 'FP64': return Array.from({ length: n }, () => Math.random());
    // Small non-negative integers fit every integer type and are valid indices for most models.
    default: return Array.from({ length: n }, () => Math.floor(Math.random() * 100));
  }
}

function tensor(name: string, datatype: DataType, shape: number[], values: unknown): InferInput {
  const n = count(shape);
  if (n > MAX_ELEMENTS) throw new BenchInputError(`input "${name}" would have ${n} elements (more than ${MAX_ELEMENTS})`);
  try {
    return { name, datatype, shape, data: jsonToTensorData(values, datatype, n, `input "${name}"`) as InferInput['data'] };
  } catch (error) {
    throw new BenchInputError((error as Error).message);
  }
}

/** perf_analyzer's per-input value: an array, or {"content": [...], "shape": [...]} (shape without the batch). */
function fromEntry(entry: Record<string, unknown>, name: string, datatype: DataType, fallback: number[], options: InputOptions): InferInput {
  const value = entry[name];
  if (value === undefined) throw new BenchInputError(`the input data file has no values for input "${name}"`);
  const content = Array.isArray(value) ? value : (value as { content?: unknown }).content;
  const shape = !Array.isArray(value) && Array.isArray((value as { shape?: unknown }).shape)
    ? [...(options.maxBatchSize > 0 ? [1] : []), ...(value as { shape: number[] }).shape]
    : fallback;
  const values = Array.isArray(content) ? content.flat(Infinity) : [];
  // One row per request in the file; the batch repeats it.
  const rows = options.maxBatchSize > 0 ? Array.from({ length: options.batchSize }, () => values).flat() : values;
  return tensor(name, datatype, options.maxBatchSize > 0 ? [options.batchSize, ...shape.slice(1)] : shape, rows);
}

/** One or more requests (each an input list), used in turn. */
export function benchRequests(metadata: ModelMetadata, options: InputOptions): InferInput[][] {
  if (typeof options.data === 'object') {
    let parsed: any;
    try {
      parsed = JSON.parse(readFileSync(options.data.file, 'utf8'));
    } catch (error) {
      throw new BenchInputError(`cannot read the input data file ${options.data.file}: ${(error as Error).message}`);
    }
    if (Array.isArray(parsed?.inputs)) {
      return [parsed.inputs.map((i: { name: string; datatype: DataType; shape: number[]; data: unknown }) => tensor(i.name, i.datatype, i.shape, i.data))];
    }
    if (!Array.isArray(parsed?.data) || parsed.data.length === 0) throw new BenchInputError(`${options.data.file}: expected {"data": [{"<input>": [...]}, ...]} or an OIP request {"inputs": [...]}`);
    return parsed.data.map((entry: Record<string, unknown>) => metadata.inputs.map((input) => {
      const shape = options.shapes[input.name] || !input.shape.slice(options.maxBatchSize > 0 ? 1 : 0).some((d) => d < 0)
        ? requestShape(input.name, input.shape, { ...options, batchSize: 1 })
        : [];
      return fromEntry(entry, input.name, input.datatype, shape, options);
    }));
  }
  const kind = options.data;
  return [metadata.inputs.map((input) => {
    const shape = requestShape(input.name, input.shape, options);
    if (count(shape) > MAX_ELEMENTS) throw new BenchInputError(`input "${input.name}" would have ${count(shape)} elements (more than ${MAX_ELEMENTS})`);
    return tensor(input.name, input.datatype, shape, generated(input.datatype, count(shape), kind));
  })];
}
