/**
 * A numeric tensor's JSON array text written straight into a Buffer, byte for byte what
 * `stringifyJsonExact(tensorDataToJson(data, datatype))` gives (json-tensors.ts, exact-json-text.ts).
 *
 * Why: that path builds a JS array of one heap number per element and then one string of the whole
 * answer; for a tensor of 10^5 floats both are megabytes in V8's old and large-object spaces, garbage
 * after every answer, and the main thread's heap swings with it (bench/json-answer.ts measures both).
 * Here the elements are copied a block at a time into one reused JS array of unboxed doubles and that
 * block is given to JSON.stringify itself: the text is JSON.stringify's by construction (a finite value
 * as Number::toString, so -0 is `0`; NaN and ±Infinity as `null`), and all a block leaves behind is its
 * one short string (no heap number per element: String(x) or TypedArray join would make one each, and
 * were slower, bench/json-answer.ts).
 *
 * Per datatype, the values that go into the block are the plain path's:
 * - FP32/FP64 and the integers up to 32 bits: the element as a Number;
 * - FP16/BF16: widened exactly (fromHalfBits, fromBFloat16Bits), as tensorDataToJson does;
 * - INT64/UINT64: a block within ±2^53 as Numbers (the same digits); a block holding a larger value
 *   is joined as BigInts, whose digits are what the exact writer writes for them;
 * - BOOL: `true` for any non-zero byte, `false` for zero, written as bytes.
 */
import type { DataType, NumericArray } from './datatypes.js';
import { fromBFloat16Bits, fromHalfBits } from './half-float.js';

/** Elements stringified at a time: a block's string stays small enough to die young. */
const BLOCK = 2048;

/**
 * The reused block. Filled with doubles from the start so V8 keeps it a double array (values unboxed);
 * a call fills and stringifies it synchronously and every thread has its own, so one block serves all.
 */
const block: number[] = [];
for (let i = 0; i < BLOCK; i++) block.push(0.5);

/**
 * Longest text of one element plus its comma. A double's Number::toString is at most 25 characters
 * ("-0.0000012345678901234567": sign, "0.", five zeros, 17 digits); "false" is 5; the integers'
 * extremes are their minimum (or maximum, unsigned) values.
 */
const ELEMENT_BYTES: Record<Exclude<DataType, 'BYTES'>, number> = {
  BOOL: 6, INT8: 5, UINT8: 4, INT16: 7, UINT16: 6, INT32: 12, UINT32: 11,
  INT64: 21, UINT64: 21, FP16: 26, BF16: 26, FP32: 26, FP64: 26,
};

/** Bytes enough for the JSON array of `count` elements of `datatype` (brackets included). */
export function jsonNumbersBound(datatype: Exclude<DataType, 'BYTES'>, count: number): number {
  return 2 + count * ELEMENT_BYTES[datatype];
}

/**
 * Writes `[v0,v1,...]` at `at` in `out` and returns the offset after it. `out` must hold
 * jsonNumbersBound(datatype, data.length) bytes from `at`.
 */
export function writeJsonNumbers(data: NumericArray, datatype: Exclude<DataType, 'BYTES'>, out: Buffer, at: number): number {
  if (data.length === 0) return put('[]', out, at);
  if (datatype === 'BOOL') return writeBools(data as Uint8Array, out, at);
  const widen = datatype === 'FP16' ? fromHalfBits : datatype === 'BF16' ? fromBFloat16Bits : undefined;
  const wide = datatype === 'INT64' || datatype === 'UINT64';
  for (let i = 0; i < data.length; i += BLOCK) {
    const end = Math.min(data.length, i + BLOCK);
    // The last, shorter block gets an array of its own: shortening the reused one would reallocate it.
    const values = end - i === BLOCK ? block : new Array<number>(end - i).fill(0.5);
    let text: string;
    if (wide) {
      text = fillWide(data as BigInt64Array | BigUint64Array, i, end, values) ? JSON.stringify(values) : `[${data.subarray(i, end).join(',')}]`;
    } else {
      const numbers = data as Exclude<NumericArray, BigInt64Array | BigUint64Array>;
      if (widen) for (let k = i; k < end; k++) values[k - i] = widen(numbers[k]!);
      else for (let k = i; k < end; k++) values[k - i] = numbers[k]!;
      text = JSON.stringify(values);
    }
    // Each block's "[...]" goes where the previous one's "]" was; its "[" becomes the separating comma.
    const start = at;
    at = put(text, out, at) - 1;
    if (i > 0) out[start] = 0x2c; // ,
  }
  out[at++] = 0x5d; // ]
  return at;
}

/** ASCII text at `at`; a short write would be a wrong answer, so it is an error instead. */
function put(text: string, out: Buffer, at: number): number {
  const written = out.write(text, at, 'latin1');
  if (written !== text.length) throw new RangeError(`json-number-text: ${text.length} bytes do not fit at ${at} of ${out.length}`);
  return at + written;
}

/** 64-bit elements as Numbers into `values`; false (the block is joined as BigInts) when one is beyond ±2^53. */
function fillWide(data: BigInt64Array | BigUint64Array, start: number, end: number, values: number[]): boolean {
  for (let k = start; k < end; k++) {
    const n = Number(data[k]!);
    if (n > Number.MAX_SAFE_INTEGER || n < Number.MIN_SAFE_INTEGER) return false;
    values[k - start] = n;
  }
  return true;
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');

function writeBools(data: Uint8Array, out: Buffer, at: number): number {
  out[at++] = 0x5b; // [
  for (let i = 0; i < data.length; i++) {
    const word = data[i] !== 0 ? TRUE : FALSE;
    if (i > 0) out[at++] = 0x2c;
    for (let k = 0; k < word.length; k++) out[at++] = word[k]!;
  }
  out[at++] = 0x5d; // ]
  return at;
}
