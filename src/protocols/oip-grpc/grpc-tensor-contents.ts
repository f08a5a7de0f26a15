/**
 * Tensor data ⇄ the two gRPC encodings: typed `InferTensorContents` (one repeated field per
 * datatype family) and raw little-endian bytes (`raw_input_contents` / `raw_output_contents`,
 * BYTES elements with a 4-byte length prefix). Sizes are checked against the shape before any
 * view or array is made; raw numeric data is a view into the received message where aligned.
 */
import { checkBytesElements } from '../../core/bytes-limits.js';
import { dataTypeInfo, type DataType, type NumericArray } from '../../core/datatypes.js';
import { VireoError } from '../../core/errors.js';
import { packBytes, unpackBytes, viewAs, type TensorData } from '../../core/tensor.js';

export interface TensorContentsMessage {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: string[];
  uint_contents: number[];
  uint64_contents: string[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Uint8Array[];
}

export type ContentsField = keyof TensorContentsMessage;

export const CONTENTS_FIELDS: readonly ContentsField[] = [
  'bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents',
];

/** The field each datatype travels in (open_inference_grpc.proto, InferTensorContents); FP16/BF16 have none. */
export const CONTENTS_FIELD: Record<DataType, ContentsField | undefined> = {
  BOOL: 'bool_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents',
  INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents',
  FP16: undefined, BF16: undefined,
  FP32: 'fp32_contents', FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

/** int32/uint32 fields carry the narrower types too, so their range is checked per element. */
const NARROW_RANGE: Partial<Record<DataType, [number, number]>> = {
  INT8: [-128, 127], INT16: [-32768, 32767], UINT8: [0, 255], UINT16: [0, 65535],
};

const invalid = (message: string): never => {
  throw new VireoError('VIREO_ERR_INPUT_DATA', message);
};

/** The typed fields that hold any element. */
export function usedContentsFields(contents: TensorContentsMessage | null | undefined): ContentsField[] {
  if (!contents) return [];
  return CONTENTS_FIELDS.filter((f) => (contents[f]?.length ?? 0) > 0);
}

/** Typed contents → tensor data of exactly `count` elements. */
export function fromTypedContents(contents: TensorContentsMessage | null | undefined, datatype: DataType, count: number, what: string): TensorData {
  const field = CONTENTS_FIELD[datatype];
  if (!field) return invalid(`${what}: ${datatype} has no typed contents field; send it in raw_input_contents`);
  const used = usedContentsFields(contents);
  const wrong = used.filter((f) => f !== field);
  if (wrong.length > 0) invalid(`${what}: datatype ${datatype} takes ${field}, but the request sets ${wrong.join(', ')}`);
  if (datatype === 'BYTES') checkBytesElements(count, what);
  const values = (contents?.[field] ?? []) as unknown[];
  if (values.length !== count) invalid(`${what}: ${field} has ${values.length} elements but the shape needs ${count}`);
  if (datatype === 'BYTES') return (values as Uint8Array[]).slice();
  const out = new (dataTypeInfo(datatype).array!)(count);
  if (datatype === 'BOOL') {
    const bools = values as boolean[];
    for (let i = 0; i < count; i++) out[i] = bools[i] ? 1 : 0;
  } else if (datatype === 'INT64' || datatype === 'UINT64') {
    const big = out as BigInt64Array | BigUint64Array;
    const strings = values as string[];
    for (let i = 0; i < count; i++) big[i] = BigInt(strings[i]!);
  } else {
    const numbers = values as number[];
    const range = NARROW_RANGE[datatype];
    if (range) {
      for (let i = 0; i < count; i++) {
        const v = numbers[i]!;
        if (v < range[0] || v > range[1]) invalid(`${what}: element ${i} (${v}) is out of range for ${datatype}`);
      }
    }
    (out as Float64Array).set(numbers);
  }
  return out;
}

/** Raw bytes → tensor data; the byte size must be exactly count × element size (BYTES: its framing). */
export function fromRawContents(bytes: Uint8Array, datatype: DataType, count: number, what: string): TensorData {
  if (datatype === 'BYTES') return unpackBytes(bytes, count, what);
  const expected = count * dataTypeInfo(datatype).size;
  if (bytes.byteLength !== expected) {
    invalid(`${what}: raw contents have ${bytes.byteLength} bytes but shape and ${datatype} need ${expected}`);
  }
  return viewAs(datatype, bytes, count);
}

/** Tensor data → raw bytes: numeric data as a view of its own memory (no copy), BYTES packed. */
export function toRawContents(data: TensorData, datatype: DataType): Buffer {
  if (datatype === 'BYTES') {
    const packed = packBytes(data as Uint8Array[]);
    return Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  }
  const numeric = data as NumericArray;
  return Buffer.from(numeric.buffer, numeric.byteOffset, numeric.byteLength);
}
