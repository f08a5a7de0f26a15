/**
 * The client's side of the tensor encodings: inputs → raw_input_contents (views of the caller's
 * typed arrays, no copy) or typed InferTensorContents; outputs (raw or typed) → typed arrays, raw
 * ones as views of the received message where alignment allows. Sizes are checked on the way in.
 */
import { dataTypeInfo, parseDataType, type DataType } from '../core/datatypes.js';
import type { Parameters } from '../core/inference.js';
import { elementCount, packBytes, unpackBytes, viewAs, type Tensor, type TensorData } from '../core/tensor.js';

interface InputLike { name: string; datatype: DataType; shape: readonly number[]; data: TensorData | readonly string[] }

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

function bytesElements(data: TensorData | readonly string[]): Uint8Array[] {
  return (data as readonly (string | Uint8Array)[]).map((e) => (typeof e === 'string' ? encoder.encode(e) : e));
}

function checkCount(input: InputLike): number {
  const what = `input "${input.name}"`;
  const count = elementCount(input.shape, what);
  const length = Array.isArray(input.data) ? input.data.length : (input.data as ArrayLike<unknown>).length;
  if (length !== count) throw new RangeError(`${what}: ${length} elements given but shape [${input.shape.join(',')}] needs ${count}`);
  if (!Array.isArray(input.data) && input.datatype !== 'BYTES') {
    const expected = dataTypeInfo(input.datatype).array!;
    if (!(input.data instanceof expected)) throw new TypeError(`${what}: ${input.datatype} data must be a ${expected.name}`);
  }
  return count;
}

export function encodeInputs(inputs: readonly InputLike[], form: 'raw' | 'typed'): { inputs: unknown[]; raw_input_contents: Buffer[] } {
  const raw: Buffer[] = [];
  const wire = inputs.map((input) => {
    checkCount(input);
    const header = { name: input.name, datatype: input.datatype, shape: [...input.shape] };
    if (form === 'raw') {
      const bytes = input.datatype === 'BYTES' ? packBytes(bytesElements(input.data)) : (input.data as ArrayBufferView);
      raw.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return header;
    }
    const field = FIELD[input.datatype];
    if (!field) throw new TypeError(`input "${input.name}": ${input.datatype} has no typed contents field; use raw contents`);
    let values: unknown[];
    if (input.datatype === 'BYTES') values = bytesElements(input.data);
    else if (input.datatype === 'BOOL') values = Array.from(input.data as Uint8Array, (v) => v !== 0);
    else if (input.datatype === 'INT64' || input.datatype === 'UINT64') values = Array.from(input.data as BigInt64Array, String);
    else values = Array.from(input.data as Float32Array);
    return { ...header, contents: { [field]: values } };
  });
  return { inputs: wire, raw_input_contents: raw };
}

export function decodeOutputs(response: WireResponse): Tensor[] {
  const raw = response.raw_output_contents ?? [];
  return response.outputs.map((o, i) => {
    const datatype = parseDataType(o.datatype);
    if (!datatype) throw new TypeError(`output "${o.name}": unknown datatype "${o.datatype}"`);
    const shape = o.shape.map(Number);
    const what = `output "${o.name}"`;
    const count = elementCount(shape, what);
    let data: TensorData;
    if (raw.length > 0) {
      const bytes = raw[i];
      if (!bytes) throw new RangeError(`${what}: the response has no raw contents for it`);
      if (datatype === 'BYTES') data = unpackBytes(bytes, count, what);
      else if (bytes.byteLength !== count * dataTypeInfo(datatype).size) throw new RangeError(`${what}: ${bytes.byteLength} raw bytes for ${count} ${datatype} elements`);
      else data = viewAs(datatype, bytes, count);
    } else {
      const values = (o.contents?.[FIELD[datatype] ?? ''] ?? []) as unknown[];
      if (values.length !== count) throw new RangeError(`${what}: ${values.length} typed elements for shape [${shape.join(',')}]`);
      if (datatype === 'BYTES') data = (values as Uint8Array[]).map((v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      else {
        const out = new (dataTypeInfo(datatype).array!)(count);
        if (datatype === 'BOOL') (values as boolean[]).forEach((v, j) => { out[j] = v ? 1 : 0; });
        else if (datatype === 'INT64' || datatype === 'UINT64') (values as string[]).forEach((v, j) => { (out as BigInt64Array)[j] = BigInt(v); });
        else (out as Float64Array).set(values as number[]);
        data = out;
      }
    }
    return { name: o.name, datatype, shape, data };
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

export function fromParameters(map: Record<string, WireParameter> | undefined): Parameters | undefined {
  const entries = Object.entries(map ?? {}).filter(([, p]) => p.parameter_choice);
  if (entries.length === 0) return undefined;
  const out: Parameters = {};
  for (const [key, p] of entries) {
    const v = p[p.parameter_choice as keyof WireParameter];
    out[key] = p.parameter_choice === 'int64_param' || p.parameter_choice === 'uint64_param' ? (Number.isSafeInteger(Number(v)) ? Number(v) : String(v)) : (v as string | number | boolean);
  }
  return out;
}
