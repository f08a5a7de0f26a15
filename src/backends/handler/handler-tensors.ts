/**
 * Tensors between the scheduler's batch and a handler's requests: the batch is split into one
 * view per request, and the handler's per-request outputs (loosely typed) are checked, converted
 * to the declared datatype and concatenated back along dim 0.
 */
import { dataTypeInfo, isDataType, type DataType, type NumericArray } from '../../core/datatypes.js';
import { VireoError, type ErrorCode } from '../../core/errors.js';
import { elementCount, type Tensor } from '../../core/tensor.js';
import type { TensorLike } from './handler-api.js';

const encoder = new TextEncoder();

const bad = (message: string): never => {
  throw new VireoError('VIREO_ERR_BACKEND_EXECUTE', message);
};

/**
 * Whose fault a value toTensor refuses is: a handler's own output is the model's (500, as `bad`); an input it
 * sends another model (BLS) is a bad request to that model, refused as the same input sent by a client would
 * be (400 / INVALID_ARGUMENT, by what is wrong: its datatype, its shape, its data).
 */
export type TensorFault = 'output' | 'call-input';

const FAULT_CODES = {
  output: { datatype: 'VIREO_ERR_BACKEND_EXECUTE', shape: 'VIREO_ERR_BACKEND_EXECUTE', data: 'VIREO_ERR_BACKEND_EXECUTE' },
  'call-input': { datatype: 'VIREO_ERR_INPUT_DATATYPE', shape: 'VIREO_ERR_INPUT_SHAPE', data: 'VIREO_ERR_INPUT_DATA' },
} as const satisfies Record<TensorFault, Record<string, ErrorCode>>;

/** Each request's rows of every input (views, no copy). Without batching there is one request. */
export function splitBatch(inputs: readonly Tensor[], items: readonly number[], batched: boolean): Record<string, Tensor>[] {
  if (!batched || items.length <= 1) return [Object.fromEntries(inputs.map((t) => [t.name, t]))];
  const out: Record<string, Tensor>[] = items.map(() => ({}));
  for (const t of inputs) {
    const total = t.shape[0]!;
    const perItem = total === 0 ? 0 : t.data.length / total;
    let row = 0;
    items.forEach((n, i) => {
      const data = Array.isArray(t.data)
        ? t.data.slice(row, row + n)
        : (t.data as NumericArray).subarray(row * perItem, (row + n) * perItem);
      out[i]![t.name] = { name: t.name, datatype: t.datatype, shape: [n, ...t.shape.slice(1)], data };
      row += n;
    });
  }
  return out;
}

/** A handler's value as a Tensor of `datatype`; `what` names it in errors, `fault` says whose fault they are. */
export function toTensor(name: string, value: TensorLike, declared: DataType | undefined, defaultShape: (n: number) => number[], what: string, fault: TensorFault = 'output'): Tensor {
  const codes = FAULT_CODES[fault];
  const refuse = (kind: keyof typeof codes, message: string): never => {
    throw new VireoError(codes[kind], message);
  };
  if (!value || typeof value !== 'object' || !('data' in value)) return refuse('data', `${what}: expected {data, shape?, datatype?}`);
  const datatype = value.datatype ?? declared;
  if (datatype === undefined || datatype === null) return refuse('datatype', `${what}: no datatype (give one: {data, shape, datatype})`);
  if (!isDataType(datatype)) return refuse('datatype', `${what}: unknown datatype "${String(datatype)}"`);
  const raw = value.data as unknown;
  const length = ArrayBuffer.isView(raw) ? (raw as NumericArray).length : Array.isArray(raw) ? raw.length : refuse('data', `${what}: data must be an array or a typed array`);
  const given = value.shape as unknown;
  if (given !== undefined && given !== null && !Array.isArray(given)) return refuse('shape', `${what}: shape must be an array of non-negative integers, got ${typeof given === 'object' ? Object.prototype.toString.call(given) : JSON.stringify(given)}`);
  const shape = given ? [...(given as number[])] : defaultShape(length);
  const count = elementCount(shape, what);
  if (count !== length) refuse('data', `${what}: ${length} elements for shape [${shape.join(',')}]`);
  if (datatype === 'BYTES') {
    if (!Array.isArray(raw)) return refuse('data', `${what}: BYTES data must be an array of strings or Uint8Arrays`);
    const data = raw.map((e: unknown, i) => {
      if (typeof e === 'string') return encoder.encode(e);
      if (e instanceof Uint8Array) return e;
      return refuse('data', `${what}: BYTES element ${i} is neither a string nor a Uint8Array`);
    });
    return { name, datatype, shape, data };
  }
  const { array, bigint } = dataTypeInfo(datatype);
  if (ArrayBuffer.isView(raw)) {
    if (!(raw instanceof array!)) refuse('data', `${what}: a ${raw.constructor.name} cannot be ${datatype} data`);
    return { name, datatype, shape, data: raw as NumericArray };
  }
  const data = new array!(length);
  (raw as unknown[]).forEach((v, i) => {
    if (bigint) {
      // BigInt() throws a RangeError on NaN or an infinity: refused by name instead.
      const n = typeof v === 'bigint' ? v : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' ? Number(v) : Number.NaN;
      if (typeof n === 'number' && !Number.isFinite(n)) refuse('data', `${what}: element ${i} is not an integer`);
      (data as BigInt64Array)[i] = typeof n === 'bigint' ? n : BigInt(Math.trunc(n));
    } else if (typeof v === 'number' || typeof v === 'boolean') (data as Float32Array)[i] = Number(v);
    else refuse('data', `${what}: element ${i} is not a number`);
  });
  return { name, datatype, shape, data };
}

/** Concatenates each output across requests along dim 0, checking every request returned its rows. */
export function concatOutputs(perRequest: Tensor[][], names: readonly string[], items: readonly number[], batched: boolean): Tensor[] {
  if (perRequest.length === 1) return perRequest[0]!;
  return names.map((name, index) => {
    const parts = perRequest.map((tensors) => tensors[index]!);
    const first = parts[0]!;
    parts.forEach((p, i) => {
      if (batched && p.shape[0] !== items[i]) bad(`output "${name}" of request ${i} has batch dimension ${p.shape[0]}, expected ${items[i]}`);
      if (p.datatype !== first.datatype) bad(`output "${name}": requests returned different datatypes (${first.datatype}, ${p.datatype})`);
      if (p.shape.slice(1).join(',') !== first.shape.slice(1).join(',')) {
        bad(`output "${name}": requests returned different shapes [${first.shape.join(',')}] and [${p.shape.join(',')}] in one batch`);
      }
    });
    const shape = [parts.reduce((s, p) => s + p.shape[0]!, 0), ...first.shape.slice(1)];
    if (first.datatype === 'BYTES') return { name, datatype: first.datatype, shape, data: parts.flatMap((p) => p.data as Uint8Array[]) };
    const Ctor = dataTypeInfo(first.datatype).array!;
    const data = new Ctor(parts.reduce((s, p) => s + p.data.length, 0));
    let offset = 0;
    for (const p of parts) {
      (data as Float32Array).set(p.data as Float32Array, offset);
      offset += p.data.length;
    }
    return { name, datatype: first.datatype, shape, data };
  });
}
