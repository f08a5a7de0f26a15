/**
 * The gRPC client's side of the tensor encodings. Raw contents use the shared binary tensor codec
 * (tensor-codec.ts: views of the caller's typed arrays, no copy); typed InferTensorContents are
 * built and read here, one repeated field per datatype family as in the OIP proto.
 */
import { dataTypeInfo, parseDataType, type DataType } from '../core/datatypes.js';
import { elementCount } from '../core/tensor.js';
import { checkInput, inputBytes, outputFromBytes } from './tensor-codec.js';
import type { InferInput, InferOutput, Parameters } from './types.js';

type WireParameter = { parameter_choice?: string; bool_param?: boolean; int64_param?: string; string_param?: string; double_param?: number; uint64_param?: string };

export interface WireResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, WireParameter>;
  outputs: { name: string; datatype: string; shape: string[]; contents: Record<string, unknown[]> | null }[];
  raw_output_contents: Buffer[];
}

const FIELD: Record<DataType, string | undefined> = {
  BOOL: 'bool_contents', UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents',
  INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents',
  FP16: undefined, BF16: undefined, FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
};

const encoder = new TextEncoder();

function typedValues(input: InferInput): unknown[] {
  if (input.datatype === 'BYTES') return (input.data as readonly (Uint8Array | string)[]).map((e) => (typeof e === 'string' ? encoder.encode(e) : e));
  if (input.datatype === 'BOOL') return Array.from(input.data as Uint8Array, (v) => v !== 0);
  if (dataTypeInfo(input.datatype).bigint) return Array.from(input.data as BigInt64Array, String);
  return Array.from(input.data as Float32Array);
}

export function encodeInputs(inputs: readonly InferInput[], form: 'raw' | 'typed'): { inputs: unknown[]; raw_input_contents: Buffer[] } {
  const raw: Buffer[] = [];
  const wire = inputs.map((input) => {
    checkInput(input);
    const header = { name: input.name, datatype: input.datatype, shape: [...input.shape] };
    if (form === 'raw') {
      const bytes = inputBytes(input);
      raw.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return header;
    }
    const field = FIELD[input.datatype];
    if (!field) throw new TypeError(`input "${input.name}": ${input.datatype} has no typed contents field; use raw contents`);
    return { ...header, contents: { [field]: typedValues(input) } };
  });
  return { inputs: wire, raw_input_contents: raw };
}

function fromTyped(name: string, datatype: DataType, shape: number[], contents: Record<string, unknown[]> | null): InferOutput {
  const what = `output "${name}"`;
  const count = elementCount(shape, what);
  const values = (contents?.[FIELD[datatype] ?? ''] ?? []) as unknown[];
  if (values.length !== count) throw new TypeError(`${what}: ${values.length} typed elements for shape [${shape.join(',')}], which needs ${count}`);
  if (datatype === 'BYTES') return { name, datatype, shape, data: (values as Uint8Array[]).map((v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
  const out = new (dataTypeInfo(datatype).array!)(count);
  if (datatype === 'BOOL') (values as boolean[]).forEach((v, j) => { out[j] = v ? 1 : 0; });
  else if (dataTypeInfo(datatype).bigint) (values as string[]).forEach((v, j) => { (out as BigInt64Array)[j] = BigInt(v); });
  else (out as Float64Array).set(values as number[]);
  return { name, datatype, shape, data: out };
}

/** Outputs of a ModelInferResponse: from raw_output_contents when present (index-aligned), else typed. */
export function decodeOutputs(response: WireResponse): InferOutput[] {
  const raw = response.raw_output_contents ?? [];
  return response.outputs.map((o, i) => {
    const datatype = parseDataType(o.datatype);
    if (!datatype) throw new TypeError(`output "${o.name}": unknown datatype "${o.datatype}"`);
    const shape = o.shape.map(Number);
    if (raw.length === 0) return fromTyped(o.name, datatype, shape, o.contents);
    const bytes = raw[i];
    if (!bytes) throw new TypeError(`output "${o.name}": the response has no raw contents for it`);
    return outputFromBytes(o.name, datatype, shape, bytes);
  });
}

export function toParameters(parameters: Parameters): Record<string, WireParameter> {
  const out: Record<string, WireParameter> = {};
  for (const [key, value] of Object.entries(parameters)) {
    if (typeof value === 'boolean') out[key] = { bool_param: value };
    else if (typeof value === 'string') out[key] = { string_param: value };
    else if (Number.isSafeInteger(value)) out[key] = { int64_param: String(value) };
    else out[key] = { double_param: value };
  }
  return out;
}

/** 64-bit parameters become numbers when exact, strings otherwise. */
export function fromParameters(map: Record<string, WireParameter> | undefined): Parameters | undefined {
  const entries = Object.entries(map ?? {}).filter(([, p]) => p.parameter_choice);
  if (entries.length === 0) return undefined;
  const out: Parameters = {};
  for (const [key, p] of entries) {
    const v = p[p.parameter_choice as keyof WireParameter];
    const big = p.parameter_choice === 'int64_param' || p.parameter_choice === 'uint64_param';
    out[key] = big ? (Number.isSafeInteger(Number(v)) ? Number(v) : String(v)) : (v as string | number | boolean);
  }
  return out;
}
