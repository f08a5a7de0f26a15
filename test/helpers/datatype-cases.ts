/**
 * One case per OIP datatype for the wire-format tests: the typed-array data a client sends, and the
 * same six values written by hand as JSON (what V1 REST must return). Identity models echo the
 * input, so the expected output of every path is exactly what was sent.
 */
import { buildModel } from '../../tools/modelgen/onnx-graph.js';
import type { ElemType } from '../../tools/modelgen/onnx-graph.js';
import type { DataType, NumericArray } from '../../src/core/datatypes.js';

export interface DatatypeCase {
  datatype: DataType;
  onnx: ElemType;
  /** Shape [2, 3]: two batch items of three elements. */
  data: NumericArray | string[];
  /** The same values as V1 REST writes them (numbers, booleans, strings). */
  json: unknown[];
}

const text = ['hello', '', 'ünïcødé', 'tab\tand\nnewline', 'x'.repeat(300), '🙂 emoji'];

export const CASES: DatatypeCase[] = [
  { datatype: 'BOOL', onnx: 'BOOL', data: Uint8Array.from([1, 0, 1, 1, 0, 0]), json: [true, false, true, true, false, false] },
  { datatype: 'UINT8', onnx: 'UINT8', data: Uint8Array.from([0, 255, 7, 128, 1, 200]), json: [0, 255, 7, 128, 1, 200] },
  { datatype: 'UINT16', onnx: 'UINT16', data: Uint16Array.from([0, 65535, 300, 4096, 1, 9]), json: [0, 65535, 300, 4096, 1, 9] },
  { datatype: 'UINT32', onnx: 'UINT32', data: Uint32Array.from([0, 4294967295, 70000, 1, 2, 3]), json: [0, 4294967295, 70000, 1, 2, 3] },
  { datatype: 'UINT64', onnx: 'UINT64', data: BigUint64Array.from([0n, 9007199254740991n, 4294967296n, 1n, 2n, 3n]), json: [0, 9007199254740991, 4294967296, 1, 2, 3] },
  { datatype: 'INT8', onnx: 'INT8', data: Int8Array.from([-128, 127, 0, -1, 5, -6]), json: [-128, 127, 0, -1, 5, -6] },
  { datatype: 'INT16', onnx: 'INT16', data: Int16Array.from([-32768, 32767, 0, -1, 500, -600]), json: [-32768, 32767, 0, -1, 500, -600] },
  { datatype: 'INT32', onnx: 'INT32', data: Int32Array.from([-2147483648, 2147483647, 0, -1, 5, -6]), json: [-2147483648, 2147483647, 0, -1, 5, -6] },
  { datatype: 'INT64', onnx: 'INT64', data: BigInt64Array.from([-9007199254740991n, 9007199254740991n, 0n, -1n, 4294967296n, -6n]), json: [-9007199254740991, 9007199254740991, 0, -1, 4294967296, -6] },
  // Half-precision bit patterns written out: 0, 1.5, -2, 65504 (largest finite), 2^-14, -0.25.
  { datatype: 'FP16', onnx: 'FLOAT16', data: Uint16Array.from([0x0000, 0x3e00, 0xc000, 0x7bff, 0x0400, 0xb400]), json: [0, 1.5, -2, 65504, 2 ** -14, -0.25] },
  { datatype: 'FP32', onnx: 'FLOAT', data: Float32Array.from([0, 1.5, -3.25, 3.4028234663852886e38, 1.1754943508222875e-38, 0.10000000149011612]), json: [0, 1.5, -3.25, 3.4028234663852886e38, 1.1754943508222875e-38, 0.10000000149011612] },
  { datatype: 'FP64', onnx: 'DOUBLE', data: Float64Array.from([0, Math.PI, -1e300, 5e-324, 1 / 3, 2 ** 60]), json: [0, Math.PI, -1e300, 5e-324, 1 / 3, 2 ** 60] },
  { datatype: 'BYTES', onnx: 'STRING', data: text, json: text },
];

/** Repository directory name of a datatype's one-input identity model. */
export const modelName = (datatype: DataType) => `id_${datatype.toLowerCase()}`;

/** One model with an Identity per datatype: inputs IN_<dt>, outputs OUT_<dt> (multi-input paths). */
export function allTypesModel(): Uint8Array {
  return buildModel({
    name: 'all_types',
    inputs: CASES.map((c) => ({ name: `IN_${c.datatype}`, type: c.onnx, dims: ['batch', 3] })),
    outputs: CASES.map((c) => ({ name: `OUT_${c.datatype}`, type: c.onnx, dims: ['batch', 3] })),
    nodes: CASES.map((c) => ({ op: 'Identity', inputs: [`IN_${c.datatype}`], outputs: [`OUT_${c.datatype}`] })),
  });
}

/** Comparable form of tensor data: numbers, bigints, or hex strings for BYTES elements. */
export function comparable(data: ArrayLike<unknown> | readonly (Uint8Array | string)[]): unknown[] {
  return Array.from(data as ArrayLike<unknown>, (v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'string' ? Buffer.from(v).toString('hex') : v));
}
