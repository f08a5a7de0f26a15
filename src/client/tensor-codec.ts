/**
 * Client-side tensor conversions shared by the transports: typed arrays ⇄ the binary tensor format
 * (little-endian, BOOL one byte, BYTES 4-byte length-prefixed — the same bytes as Triton's binary
 * HTTP extension and OIP gRPC raw contents) and ⇄ JSON `data` arrays.
 */
import { dataTypeInfo, type DataType, type NumericArray } from '../core/datatypes.js';
import { toBFloat16Bits, toHalfBits } from '../core/half-float.js';
import { tensorDataToJson } from '../core/json-tensors.js';
import { elementCount, packBytes, unpackBytes, viewAs } from '../core/tensor.js';
import type { InferInput, InferOutput } from './types.js';

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Checks an input's data against its datatype and shape before anything is sent. */
export function checkInput(input: InferInput): void {
  const what = `input "${input.name}"`;
  const count = elementCount(input.shape, what);
  if (input.data.length !== count) {
    throw new TypeError(`${what}: ${input.data.length} elements for shape [${input.shape.join(',')}], which needs ${count}`);
  }
  const info = dataTypeInfo(input.datatype);
  if (input.datatype === 'BYTES') {
    if (!Array.isArray(input.data)) throw new TypeError(`${what}: BYTES data must be an array of Uint8Array or string elements`);
  } else if (!(input.data instanceof info.array!)) {
    throw new TypeError(`${what}: ${input.datatype} data must be a ${info.array!.name}`);
  }
}

function bytesElements(data: InferInput['data']): Uint8Array[] {
  return (data as readonly (Uint8Array | string)[]).map((e) => (typeof e === 'string' ? encoder.encode(e) : e));
}

/** An input's data in the binary tensor format; numeric data is a view, not a copy. */
export function inputBytes(input: InferInput): Uint8Array {
  if (input.datatype === 'BYTES') return packBytes(bytesElements(input.data));
  const data = input.data as NumericArray;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** An input's data as a JSON `data` array (64-bit integers beyond 2^53 as decimal strings). */
export function inputJson(input: InferInput): unknown[] {
  if (input.datatype === 'BYTES') {
    // JSON carries text; bytes that are not UTF-8 go as {"b64"} (Vireo accepts it) rather than corrupted.
    return (input.data as readonly (Uint8Array | string)[]).map((e) => {
      if (typeof e === 'string') return e;
      try {
        return strictUtf8.decode(e);
      } catch {
        return { b64: Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('base64') };
      }
    });
  }
  if (dataTypeInfo(input.datatype).bigint) {
    return Array.from(input.data as BigInt64Array, (v) => (v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v.toString()));
  }
  return tensorDataToJson(input.data as NumericArray, input.datatype);
}

/** An output received in the binary tensor format; copies only to fix alignment. */
export function outputFromBytes(name: string, datatype: DataType, shape: number[], bytes: Uint8Array): InferOutput {
  const what = `output "${name}"`;
  const count = elementCount(shape, what);
  if (datatype === 'BYTES') return { name, datatype, shape, data: unpackBytes(bytes, count, what) };
  const expected = count * dataTypeInfo(datatype).size;
  if (bytes.byteLength !== expected) throw new TypeError(`${what}: ${bytes.byteLength} bytes for shape [${shape.join(',')}] of ${datatype}, which needs ${expected}`);
  return { name, datatype, shape, data: viewAs(datatype, bytes, count) };
}

/** An output received as a JSON `data` array (flat or nested). */
export function outputFromJson(name: string, datatype: DataType, shape: number[], data: unknown): InferOutput {
  const what = `output "${name}"`;
  const count = elementCount(shape, what);
  // Servers send flat `data` (OIP); nested arrays are flattened only when they occur.
  const flat = (!Array.isArray(data) ? [data] : data.length > 0 && Array.isArray(data[0]) ? data.flat(Infinity) : data) as unknown[];
  if (flat.length !== count) throw new TypeError(`${what}: ${flat.length} elements for shape [${shape.join(',')}], which needs ${count}`);
  if (datatype === 'BYTES') {
    return { name, datatype, shape, data: flat.map((v) => encoder.encode(String(v))) };
  }
  const info = dataTypeInfo(datatype);
  const out = new info.array!(count);
  for (let i = 0; i < count; i++) {
    const v = flat[i];
    if (info.bigint) (out as BigInt64Array)[i] = BigInt(typeof v === 'number' ? Math.trunc(v) : String(v));
    else if (datatype === 'BOOL') out[i] = v === true || v === 1 ? 1 : 0;
    else if (datatype === 'FP16') out[i] = toHalfBits(Number(v));
    else if (datatype === 'BF16') out[i] = toBFloat16Bits(Number(v));
    else out[i] = Number(v);
  }
  return { name, datatype, shape, data: out };
}
