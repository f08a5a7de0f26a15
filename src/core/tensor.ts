/**
 * Named tensors as every layer sees them. Numeric data is a typed array (FP16/BF16 as raw bits in a
 * Uint16Array, BOOL as one byte per element); BYTES data is one Uint8Array per element.
 */
import { dataTypeInfo, type DataType, type NumericArray } from './datatypes.js';
import { checkBytesElements } from './bytes-limits.js';
import { VireoError } from './errors.js';

export type TensorData = NumericArray | Uint8Array[];

export interface Tensor {
  readonly name: string;
  readonly datatype: DataType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export type TensorMap = Map<string, Tensor>;

/** Largest element count a single tensor may have: beyond this no allocation is attempted. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/**
 * Product of a shape, refusing negative, fractional and overflowing dims before anything is allocated.
 * `what` names the tensor in the error message.
 */
export function elementCount(shape: readonly number[], what: string): number {
  let count = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new VireoError('VIREO_ERR_INPUT_SHAPE', `${what}: shape [${shape.join(',')}] has an invalid dimension ${dim}`);
    }
    count *= dim;
    if (count > MAX_ELEMENTS) {
      throw new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', `${what}: shape [${shape.join(',')}] has more than ${MAX_ELEMENTS} elements`);
    }
  }
  return count;
}

export function byteSize(tensor: Tensor): number {
  if (tensor.datatype === 'BYTES') {
    let total = 0;
    for (const element of tensor.data as Uint8Array[]) total += 4 + element.byteLength;
    return total;
  }
  return (tensor.data as NumericArray).byteLength;
}

export function isNumericData(data: TensorData): data is NumericArray {
  return !Array.isArray(data);
}

/** A view over `bytes` as the tensor's typed array, copying only when the offset is misaligned. */
export function viewAs(datatype: DataType, bytes: Uint8Array, count: number): NumericArray {
  const { array, size } = dataTypeInfo(datatype);
  if (!array) throw new VireoError('VIREO_ERR_INTERNAL', `${datatype} has no fixed-size representation`);
  if (bytes.byteOffset % size === 0) return new array(bytes.buffer, bytes.byteOffset, count);
  const aligned = new Uint8Array(count * size);
  aligned.set(bytes.subarray(0, count * size));
  return new array(aligned.buffer, 0, count);
}

/** BYTES elements packed as Triton's binary format: 4-byte little-endian length, then the bytes. */
export function packBytes(elements: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const e of elements) total += 4 + e.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const e of elements) {
    view.setUint32(offset, e.byteLength, true);
    out.set(e, offset + 4);
    offset += 4 + e.byteLength;
  }
  return out;
}

/** Inverse of packBytes for data from a client: the count is checked against the BYTES bounds first. */
export function unpackBytes(bytes: Uint8Array, count: number, what: string): Uint8Array[] {
  checkBytesElements(count, what);
  return splitPackedBytes(bytes, count, what);
}

/** Inverse of packBytes: views into `bytes`, no copy; `what` names the tensor when the framing is wrong. */
export function splitPackedBytes(bytes: Uint8Array, count: number, what: string): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const elements: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > bytes.byteLength) {
      throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: BYTES element ${i} is truncated (no length prefix)`);
    }
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.byteLength) {
      throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: BYTES element ${i} declares ${length} bytes but only ${bytes.byteLength - offset} remain`);
    }
    elements.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== bytes.byteLength) {
    throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: ${bytes.byteLength - offset} bytes left over after ${count} BYTES elements`);
  }
  return elements;
}
