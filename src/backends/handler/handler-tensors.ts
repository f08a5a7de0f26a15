/**
 * Tensors between the scheduler's batch and a handler's requests: the batch is split into one
 * view per request, and the handler's per-request outputs (loosely typed) are checked, converted
 * to the declared datatype and concatenated back along dim 0.
 */
import { dataTypeInfo, isDataType, type DataType, type NumericArray } from '../../core/datatypes.js';
import { VireoError } from '../../core/errors.js';
import { elementCount, type Tensor } from '../../core/tensor.js';
import type { TensorLike } from './handler-api.js';

const encoder = new TextEncoder();

const bad = (message: string): never => {
  throw new VireoError('VIREO_ERR_BACKEND_EXECUTE', message);
};

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

/** A handler's value as a Tensor of `datatype`; `what` names it in errors. */
export function toTensor(name: string, value: TensorLike, declared: DataType | undefined, defaultShape: (n: number) => number[], what: string): Tensor {
  if (!value || typeof value !== 'object' || !('data' in value)) return bad(`${what}: expected {data, shape?, datatype?}`);
  const datatype = value.datatype ?? declared;
  if (!datatype || !isDataType(datatype)) return bad(`${what}: unknown datatype ${String(value.datatype)}`);
  const raw = value.data as unknown;
  const length = ArrayBuffer.isView(raw) ? (raw as NumericArray).length : Array.isArray(raw) ? raw.length : bad(`${what}: data must be an array or a typed array`);
  const shape = value.shape ? [...value.shape] : defaultShape(length);
  const count = elementCount(shape, what);
  if (count !== length) bad(`${what}: ${length} elements for shape [${shape.join(',')}]`);
  if (datatype === 'BYTES') {
    if (!Array.isArray(raw)) return bad(`${what}: BYTES data must be an array of strings or Uint8Arrays`);
    const data = raw.map((e: unknown, i) => {
      if (typeof e === 'string') return encoder.encode(e);
      if (e instanceof Uint8Array) return e;
      return bad(`${what}: BYTES element ${i} is neither a string nor a Uint8Array`);
    });
    return { name, datatype, shape, data };
  }
  const { array, bigint } = dataTypeInfo(datatype);
  if (ArrayBuffer.isView(raw)) {
    if (!(raw instanceof array!)) bad(`${what}: a ${raw.constructor.name} cannot be ${datatype} data`);
    return { name, datatype, shape, data: raw as NumericArray };
  }
  const data = new array!(length);
  (raw as unknown[]).forEach((v, i) => {
    if (bigint) (data as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
    else if (typeof v === 'number' || typeof v === 'boolean') (data as Float32Array)[i] = Number(v);
    else bad(`${what}: element ${i} is not a number`);
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
