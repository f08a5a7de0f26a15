/**
 * The one table of tensor datatypes: OIP names, Triton `TYPE_*` spellings, element sizes,
 * typed-array constructors and ONNX Runtime type names. Nothing else in Vireo knows these mappings.
 */

export const DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'BF16', 'FP32', 'FP64', 'BYTES',
] as const;

export type DataType = (typeof DATATYPES)[number];

export type NumericArray =
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array
  | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Float32Array | Float64Array;

type TypedArrayCtor = {
  new (length: number): NumericArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
};

export interface DataTypeInfo {
  /** Bytes per element; 0 for BYTES, whose elements vary in size. */
  readonly size: number;
  /** Storage for numeric types. FP16 and BF16 keep their raw bits in a Uint16Array; BOOL uses one byte. */
  readonly array: TypedArrayCtor | null;
  /** onnxruntime's tensor type name, or null when ONNX Runtime cannot take it. */
  readonly ort: string | null;
  /** JSON elements are bigint-backed (64-bit integers). */
  readonly bigint: boolean;
}

const INFO: Record<DataType, DataTypeInfo> = {
  BOOL: { size: 1, array: Uint8Array, ort: 'bool', bigint: false },
  UINT8: { size: 1, array: Uint8Array, ort: 'uint8', bigint: false },
  UINT16: { size: 2, array: Uint16Array, ort: 'uint16', bigint: false },
  UINT32: { size: 4, array: Uint32Array, ort: 'uint32', bigint: false },
  UINT64: { size: 8, array: BigUint64Array, ort: 'uint64', bigint: true },
  INT8: { size: 1, array: Int8Array, ort: 'int8', bigint: false },
  INT16: { size: 2, array: Int16Array, ort: 'int16', bigint: false },
  INT32: { size: 4, array: Int32Array, ort: 'int32', bigint: false },
  INT64: { size: 8, array: BigInt64Array, ort: 'int64', bigint: true },
  FP16: { size: 2, array: Uint16Array, ort: 'float16', bigint: false },
  BF16: { size: 2, array: Uint16Array, ort: null, bigint: false },
  FP32: { size: 4, array: Float32Array, ort: 'float32', bigint: false },
  FP64: { size: 8, array: Float64Array, ort: 'float64', bigint: false },
  BYTES: { size: 0, array: null, ort: 'string', bigint: false },
};

const BY_ORT = new Map<string, DataType>(
  DATATYPES.filter((d) => INFO[d].ort !== null && d !== 'UINT8').map((d) => [INFO[d].ort as string, d]),
);
BY_ORT.set('uint8', 'UINT8');

export function dataTypeInfo(datatype: DataType): DataTypeInfo {
  return INFO[datatype];
}

export function isDataType(value: unknown): value is DataType {
  return typeof value === 'string' && (DATATYPES as readonly string[]).includes(value);
}

/** Accepts `FP32`, `TYPE_FP32` and `TYPE_STRING` (Triton's name for BYTES). */
export function parseDataType(spelling: string): DataType | undefined {
  const bare = spelling.startsWith('TYPE_') ? spelling.slice(5) : spelling;
  if (bare === 'STRING') return 'BYTES';
  return isDataType(bare) ? bare : undefined;
}

/**
 * A datatype as OIP puts it on the wire: the bare names only (`FP32`, `BYTES`). The `TYPE_*`
 * spellings belong to model configurations, and a request carrying one is a client bug to report.
 */
export function parseWireDataType(spelling: string): DataType | undefined {
  return isDataType(spelling) ? spelling : undefined;
}

export function tritonSpelling(datatype: DataType): string {
  return datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${datatype}`;
}

export function fromOrtType(ortType: string): DataType | undefined {
  return BY_ORT.get(ortType);
}
