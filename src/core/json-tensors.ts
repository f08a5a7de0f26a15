/**
 * JSON ⇄ tensor data, shared by every JSON protocol (OIP REST, V1 REST). Values go straight into
 * the typed array of the tensor's datatype; each value is range-checked for its type so a wrong
 * value is a clear 400, never a silent wrap-around.
 *
 * `jsonTextToTensorData` takes data JSON.parse read from JSON text (every JSON wire path); JSON has no
 * Infinity token, so an infinity there is a literal beyond the double range (`1e400`), refused as the
 * overflow it is, like `1e39` for FP32. `jsonToTensorData` takes JS values (dataframe cells from
 * Arrow/Parquet, bench inputs), where an infinity is legitimate and kept. Same cost per element.
 *
 * Exactness: a JSON reader that keeps integers beyond ±2^53 gives them as BigInt (the HTTP
 * frontends' exact-json.ts); INT64/UINT64 take them exactly. Out, a 64-bit element beyond ±2^53 is
 * a BigInt for an exact writer, every other one a Number. BYTES that are not valid UTF-8 are an
 * error (a JSON string cannot carry them), never U+FFFD.
 */
import { checkBytesElements } from './bytes-limits.js';
import { checkTensorBytes, tensorBytes } from './request-limits.js';
import { dataTypeInfo, type DataType, type NumericArray } from './datatypes.js';
import { VireoError } from './errors.js';
import { fromBFloat16Bits, fromHalfBits, toBFloat16Bits, toHalfBits } from './half-float.js';
import type { TensorData } from './tensor.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Triton's limit on the nesting of a JSON tensor's data (HTTP_MAX_JSON_NESTING_DEPTH). */
export const MAX_JSON_NESTING = 100;

const INT_RANGES: Partial<Record<DataType, [number, number]>> = {
  UINT8: [0, 255], UINT16: [0, 65535], UINT32: [0, 4294967295],
  INT8: [-128, 127], INT16: [-32768, 32767], INT32: [-2147483648, 2147483647],
};

const BIG_RANGES: Partial<Record<DataType, [bigint, bigint]>> = {
  INT64: [-(2n ** 63n), 2n ** 63n - 1n],
  UINT64: [0n, 2n ** 64n - 1n],
};

/**
 * Flattens nested arrays into `visit`; non-array leaves are values. Refuses more than `limit`
 * leaves (with `strict` false, stops counting at `limit` instead: checkLayout's count).
 */
function flatten(value: unknown, visit: (leaf: unknown, index: number) => void, limit: number, what: string, strict = true): number {
  let index = 0;
  const walk = (v: unknown, depth: number) => {
    if (Array.isArray(v)) {
      if (depth >= MAX_JSON_NESTING) throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: JSON nesting depth exceeds maximum allowed limit (${MAX_JSON_NESTING})`);
      for (const item of v) {
        walk(item, depth + 1);
        if (index >= limit && !strict) return;
      }
      return;
    }
    if (index >= limit) throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: data has more than the ${limit} elements its shape allows`);
    visit(v, index++);
  };
  walk(value, 0);
  return index;
}

/**
 * A 64-bit integer that JSON.parse could not hold exactly (beyond ±2^53). A frontend that kept the
 * body's text reads it again exactly and retries; otherwise this is the ordinary 400.
 */
export class InexactJsonNumber extends VireoError {
  constructor(message: string) {
    super('VIREO_ERR_INPUT_DATA', message);
  }
}

function badValue(what: string, datatype: DataType, index: number, value: unknown): never {
  // String(): JSON.stringify would show an infinity (a literal beyond the double range) as "null".
  const shown = typeof value === 'string' ? `"${value.slice(0, 40)}"` : typeof value === 'bigint' || typeof value === 'number' ? String(value) : JSON.stringify(value)?.slice(0, 40);
  throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: element ${index} (${shown}) is not a valid ${datatype} value`);
}

/**
 * Refuses data whose element count is not `count` before anything of that size is allocated (a
 * shape of [1, 2147483647] with one value must not reserve 16 GiB), and nested data whose nesting
 * does not follow `shape` (the OIP data is flat, or nested exactly as the shape). The walk visits
 * only the JSON that arrived, so its cost is bounded by the body.
 */
function checkLayout(data: unknown, count: number, shape: readonly number[] | undefined, what: string): void {
  if (!Array.isArray(data)) {
    if (count !== 1) throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: data is a single value but the shape needs ${count} elements`);
    return;
  }
  const nested = data.some(Array.isArray);
  if (!nested) {
    checkCount(data.length, count, what);
    return;
  }
  if (shape) {
    const follows = (value: unknown, level: number): boolean => {
      if (level === shape.length) return !Array.isArray(value);
      return Array.isArray(value) && value.length === shape[level] && value.every((item) => follows(item, level + 1));
    };
    if (!follows(data, 0)) throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: nested data does not follow the shape [${shape.join(',')}] (send it flat, or nested exactly as the shape)`);
    return;
  }
  checkCount(flatten(data, () => undefined, count + 1, what, false), count, what);
}

/** Base64 as TF-Serving and Vireo's clients write it (standard or URL-safe alphabet, padding optional). */
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** `{"b64"}` bytes. Buffer.from skips characters outside the alphabet: "!!!" would be empty bytes, not an error. */
function fromBase64(text: string, what: string, index: number): Buffer {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61) end--; // '=' padding: no copy of the text to drop it
  if (!BASE64.test(text) || end % 4 === 1) {
    throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: element ${index} is not valid base64 ({"b64": …})`);
  }
  return Buffer.from(text, 'base64');
}

/**
 * Builds tensor data of `count` elements from JSON `data` (flat, or nested as `shape` when given).
 * The element count is checked against `count` exactly before the tensor is allocated; `count`
 * itself must already be bounded by the caller. For JS values: a float element that is an infinity
 * stays one (data parsed from JSON text goes through jsonTextToTensorData).
 */
export function jsonToTensorData(data: unknown, datatype: DataType, count: number, what: string, shape?: readonly number[]): TensorData {
  return toTensorData(data, datatype, count, what, shape, false);
}

/**
 * As jsonToTensorData, for `data` that JSON.parse (or the exact reading) made from JSON text: an
 * infinite element is refused as beyond the datatype's range, naming it, since only a number literal
 * beyond ±1.7976931348623157e308 becomes one.
 */
export function jsonTextToTensorData(data: unknown, datatype: DataType, count: number, what: string, shape?: readonly number[]): TensorData {
  return toTensorData(data, datatype, count, what, shape, true);
}

function toTensorData(data: unknown, datatype: DataType, count: number, what: string, shape: readonly number[] | undefined, refuseInfinity: boolean): TensorData {
  checkLayout(data, count, shape, what);
  // After the layout (which reads only the JSON that arrived), before the tensor is allocated.
  checkTensorBytes(tensorBytes(datatype, count), what);
  if (datatype === 'BYTES') {
    checkBytesElements(count, what);
    const out: Uint8Array[] = new Array(count);
    const n = flatten(data, (leaf, i) => {
      if (typeof leaf === 'string') out[i] = encoder.encode(leaf);
      else if (leaf && typeof leaf === 'object' && typeof (leaf as { b64?: unknown }).b64 === 'string') out[i] = fromBase64((leaf as { b64: string }).b64, what, i);
      else badValue(what, datatype, i, leaf);
    }, count, what);
    checkCount(n, count, what);
    return out;
  }
  const info = dataTypeInfo(datatype);
  const out = new info.array!(count);
  if ((datatype === 'FP32' || datatype === 'FP64') && Array.isArray(data) && data.length === count) {
    // The hot path (flat float data, as most clients send it): one loop, no per-element closure calls.
    if (fillFloats(data, out as Float32Array | Float64Array)) return out;
  }
  const range = INT_RANGES[datatype];
  if (range && Array.isArray(data) && data.length === count && fillInts(data, out as Int32Array, range[0], range[1])) return out;
  let write: (leaf: unknown, i: number) => void;
  if (datatype === 'BOOL') {
    write = (leaf, i) => {
      if (leaf === true || leaf === 1) out[i] = 1;
      else if (leaf === false || leaf === 0) out[i] = 0;
      else badValue(what, datatype, i, leaf);
    };
  } else if (info.bigint) {
    const [min, max] = BIG_RANGES[datatype]!;
    write = (leaf, i) => {
      let v: bigint;
      if (typeof leaf === 'number' && Number.isSafeInteger(leaf)) v = BigInt(leaf);
      else if (typeof leaf === 'bigint') v = leaf;
      else if (typeof leaf === 'number' && Number.isInteger(leaf)) {
        throw new InexactJsonNumber(`${what}: element ${i} (${leaf}) is beyond ±2^53 and was not read exactly; send it as a string`);
      }
      else if (typeof leaf === 'string' && /^-?\d{1,20}$/.test(leaf)) v = BigInt(leaf);
      else return badValue(what, datatype, i, leaf);
      if (v < min || v > max) badValue(what, datatype, i, leaf);
      (out as BigInt64Array)[i] = v;
    };
  } else if (datatype === 'FP16' || datatype === 'BF16') {
    const toBits = datatype === 'FP16' ? toHalfBits : toBFloat16Bits;
    const infinite = INFINITE_BITS[datatype];
    write = (leaf, i) => {
      if (typeof leaf !== 'number' && typeof leaf !== 'bigint') badValue(what, datatype, i, leaf);
      const value = Number(leaf);
      const bits = toBits(value);
      if ((bits & 0x7fff) === infinite) overflowed(what, datatype, i, leaf, value, refuseInfinity);
      out[i] = bits;
    };
  } else if (datatype === 'FP32' || datatype === 'FP64') {
    write = (leaf, i) => {
      if (typeof leaf !== 'number' && typeof leaf !== 'bigint') badValue(what, datatype, i, leaf);
      const value = Number(leaf);
      out[i] = value;
      if (out[i] === Infinity || out[i] === -Infinity) overflowed(what, datatype, i, leaf, value, refuseInfinity);
    };
  } else {
    const [min, max] = INT_RANGES[datatype]!;
    write = (leaf, i) => {
      if (typeof leaf !== 'number' || !Number.isInteger(leaf) || leaf < min || leaf > max) badValue(what, datatype, i, leaf);
      out[i] = leaf as number;
    };
  }
  const n = flatten(data, write, count, what);
  checkCount(n, count, what);
  return out;
}

/** Copies a flat array of numbers; false (nothing to trust in `out`) if any element is not a number. */
function fillFloats(data: unknown[], out: Float32Array | Float64Array): boolean {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number') return false;
    out[i] = v;
    // An infinite element is one beyond FP32's range, or an infinity (from JSON text: a literal beyond
    // FP64's, which JSON.parse made Infinity): the general path decides, naming it.
    if (out[i] === Infinity || out[i] === -Infinity) return false;
  }
  return true;
}

/**
 * A finite number stored as `datatype` that would become an infinity: refused rather than silently
 * changed (FP32 above ≈ 3.4e38, FP16 from 65,520, BF16 above ≈ 3.39e38 round to ±Infinity).
 */
function outOfRange(what: string, datatype: DataType, index: number, value: unknown): never {
  throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: element ${index} (${String(value).slice(0, 40)}) is beyond the range of ${datatype}`);
}
/**
 * An element stored as ±Infinity: refused when its value was finite (outOfRange), or was itself an
 * infinity read from JSON text (a literal beyond a double, whose text JSON.parse did not keep); else kept.
 */
function overflowed(what: string, datatype: DataType, index: number, leaf: unknown, value: number, refuseInfinity: boolean): void {
  if (Number.isFinite(value)) outOfRange(what, datatype, index, leaf);
  if (!refuseInfinity) return;
  throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: element ${index} (a number literal beyond ${value < 0 ? '-' : ''}1.7976931348623157e308, read as ${value}) is beyond the range of ${datatype}`);
}
/** The bits of ±Infinity without the sign: FP16 and BF16. */
const INFINITE_BITS = { FP16: 0x7c00, BF16: 0x7f80 } as const;

/** As fillFloats, for integer types within [min, max]; false on any other value (the slow path reports it). */
function fillInts(data: unknown[], out: Int32Array, min: number, max: number): boolean {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return false;
    out[i] = v;
  }
  return true;
}

function checkCount(n: number, count: number, what: string): void {
  if (n !== count) throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: data has ${n} elements but the shape needs ${count}`);
}

/**
 * Tensor data as a flat JSON array: FP16/BF16 as numbers, BYTES as strings, 64-bit integers as
 * numbers (BigInt beyond ±2^53, for an exact JSON writer). `what` names the tensor in errors.
 */
export function tensorDataToJson(data: TensorData, datatype: DataType, what = 'output'): unknown[] {
  if (datatype === 'BYTES') return bytesToJson(data as Uint8Array[], what);
  const numeric = data as NumericArray;
  switch (datatype) {
    case 'BOOL': return Array.from(numeric as Uint8Array, (v) => v !== 0);
    case 'FP16': return Array.from(numeric as Uint16Array, fromHalfBits);
    case 'BF16': return Array.from(numeric as Uint16Array, fromBFloat16Bits);
    case 'INT64':
    case 'UINT64': return int64ToJson(numeric as BigInt64Array | BigUint64Array);
    default: return Array.from(numeric as Float32Array);
  }
}

function bytesToJson(elements: Uint8Array[], what: string): string[] {
  const out = new Array<string>(elements.length);
  for (let i = 0; i < elements.length; i++) {
    try {
      out[i] = decoder.decode(elements[i]);
    } catch {
      throw new VireoError('VIREO_ERR_OUTPUT_NOT_JSON', `${what}: element ${i} is not valid UTF-8, which a JSON string cannot carry; request the output as binary data (output parameter "binary_data": true) or use gRPC`);
    }
  }
  return out;
}

/** Numbers where exact (one comparison per element); only a tensor with a larger value pays for BigInts. */
function int64ToJson(values: BigInt64Array | BigUint64Array): (number | bigint)[] {
  const out = new Array<number | bigint>(values.length);
  let exact = true;
  for (let i = 0; i < values.length; i++) {
    const n = Number(values[i]);
    out[i] = n;
    if (n > Number.MAX_SAFE_INTEGER || n < Number.MIN_SAFE_INTEGER) exact = false;
  }
  if (!exact) {
    for (let i = 0; i < values.length; i++) {
      const n = out[i] as number;
      if (n > Number.MAX_SAFE_INTEGER || n < Number.MIN_SAFE_INTEGER) out[i] = values[i]!;
    }
  }
  return out;
}
