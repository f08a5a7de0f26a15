/**
 * One CSV line without quotes → its cells, the numeric ones as numbers, without a string per cell:
 * from the line's text (parseNumericLine) or straight from its bytes (parseNumericBytes: no decoding
 * and no string per line, which is most of the garbage a numeric CSV makes).
 *
 * Hand-written because it was measured to matter: over the batch benchmark's rows (256 cells of
 * 4-decimal numbers), `split(',')` then `Number` per cell cost ≈ 170 ns a cell on the main thread,
 * which competes with onnxruntime's threads for the machine's two cores; scanning char codes costs
 * a fraction of that (`tsx bench/csv-numbers.ts` prints both, side by side). It is exact, not an
 * approximation: a decimal with at most 15 significant digits and at most 22 after the point is
 * `mantissa / 10^k` with both operands exact doubles, and IEEE division rounds that correctly —
 * the value `Number` gives (the fast path of every correct strtod). Anything else in a numeric cell
 * (an exponent, more digits, a sign other than '-', hex, text) is handed to `Number` as it is.
 */

import { DECIMAL_TEXT } from '../codecs/dataframe-codec.js';

/** 10^k for k ≤ 22: every one an exact double. */
const POWERS = Array.from({ length: 23 }, (_, k) => 10 ** k);
const MAX_DIGITS = 15;

const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const isSpace = (code: number) => code === 32 || code === 9;

/**
 * A number that an FP32 column would hold as ±Infinity: the line is not clean, and the string path
 * fails that row alone with the REST path's error (core/json-tensors.ts). Only the general path can
 * meet one: the fast path's numbers have at most 15 digits and no exponent.
 */
const beyondFloat32 = (column: unknown, value: number): boolean => column instanceof Float32Array && !Number.isFinite(Math.fround(value));

export interface LineTarget {
  /** Per column: a typed array to take the number, or an array to take the trimmed string (at `row`). */
  columns: readonly (Float64Array | Float32Array | unknown[])[];
  numeric: readonly boolean[];
  /**
   * Per numeric column, where row r's number goes in its typed array: `r * stride[c] + offset[c]` —
   * 1 and 0 for a column of its own, the width and the column's place for columns read row by row
   * into one array (RowMajorColumns).
   */
  stride: readonly number[];
  offset: readonly number[];
}

/**
 * Writes row `row` of `target` from `text`. false when the line is not clean — a cell count other
 * than the columns', or a numeric cell that is empty or not a finite number — and the caller's
 * general path must decide (with the REST path's errors).
 */
export function parseNumericLine(text: string, row: number, target: LineTarget): boolean {
  const { columns, numeric, stride, offset } = target;
  const width = columns.length;
  const end = text.length;
  let at = 0;
  for (let c = 0; c < width; c++) {
    if (c > 0) {
      if (at >= end || text.charCodeAt(at) !== COMMA) return false; // fewer cells than columns
      at++;
    }
    const start = at;
    if (!numeric[c]) {
      while (at < end && text.charCodeAt(at) !== COMMA) at++;
      columns[c]![row] = text.slice(start, at).trim();
      continue;
    }
    // Fast path: [space] [-] digits [. digits] [space], then a comma or the end.
    let p = at;
    while (p < end && isSpace(text.charCodeAt(p))) p++;
    const negative = p < end && text.charCodeAt(p) === MINUS;
    if (negative) p++;
    let mantissa = 0;
    let digits = 0;
    let anyDigit = false;
    let fraction = -1;
    for (; p < end; p++) {
      const code = text.charCodeAt(p);
      if (code >= ZERO && code <= NINE) {
        anyDigit = true;
        // Leading zeros are not significant digits.
        if (digits > 0 || code !== ZERO) digits++;
        mantissa = mantissa * 10 + (code - ZERO);
        if (fraction >= 0) fraction++;
      } else if (code === DOT && fraction < 0) {
        fraction = 0;
      } else {
        break;
      }
    }
    while (p < end && isSpace(text.charCodeAt(p))) p++;
    if ((p === end || text.charCodeAt(p) === COMMA) && digits <= MAX_DIGITS && fraction <= 22 && anyDigit) {
      const value = fraction > 0 ? mantissa / POWERS[fraction]! : mantissa;
      (columns[c] as Float64Array)[row * stride[c]! + offset[c]!] = negative ? -value : value;
      at = p;
      continue;
    }
    // Anything else: the cell as `Number` reads it, then the general checks.
    while (p < end && text.charCodeAt(p) !== COMMA) p++;
    const cell = text.slice(start, p);
    const value = Number(cell);
    // Only decimals (exponents too): `Number` also reads hex, binary and octal, and a blank as 0.
    if (!Number.isFinite(value) || !DECIMAL_TEXT.test(cell) || beyondFloat32(columns[c]!, value)) return false;
    (columns[c] as Float64Array)[row * stride[c]! + offset[c]!] = value;
    at = p;
  }
  return at === end; // more cells than columns: not clean
}

const QUOTE = 34;
const TAB = 9;
const SPACE = 32;

/**
 * parseNumericLine on the line's bytes (UTF-8, without its line ending), giving the same values.
 * false also when the line has a quote or a byte outside ASCII: such a line is decoded and goes
 * through the text path (which keeps the decoder's verdict on invalid UTF-8 and csv-parse's on quotes).
 * Text cells are ASCII here, so their latin1 reading is their UTF-8 one.
 */
export function parseNumericBytes(bytes: Buffer, row: number, target: LineTarget): boolean {
  const { columns, numeric, stride, offset } = target;
  const width = columns.length;
  const end = bytes.length;
  let at = 0;
  for (let c = 0; c < width; c++) {
    if (c > 0) {
      if (at >= end || bytes[at] !== COMMA) return false; // fewer cells than columns
      at++;
    }
    const start = at;
    if (!numeric[c]) {
      let code = 0;
      while (at < end && (code = bytes[at]!) !== COMMA) {
        if (code === QUOTE || code > 127) return false;
        at++;
      }
      columns[c]![row] = bytes.toString('latin1', start, at).trim();
      continue;
    }
    // Fast path: [space] [-] digits [. digits] [space], then a comma or the end, with at most
    // MAX_DIGITS digits in all (leading zeros included: a longer cell takes the general path).
    let p = at;
    let code = 0;
    while (p < end && ((code = bytes[p]!) === SPACE || code === TAB)) p++;
    const negative = p < end && code === MINUS;
    if (negative) p++;
    let mantissa = 0;
    let digit = 0;
    const integerStart = p;
    while (p < end && (digit = bytes[p]! - ZERO) >= 0 && digit <= 9) {
      mantissa = mantissa * 10 + digit;
      p++;
    }
    let digits = p - integerStart;
    let fraction = 0;
    if (p < end && bytes[p] === DOT) {
      const fractionStart = ++p;
      while (p < end && (digit = bytes[p]! - ZERO) >= 0 && digit <= 9) {
        mantissa = mantissa * 10 + digit;
        p++;
      }
      fraction = p - fractionStart;
      digits += fraction;
    }
    while (p < end && ((code = bytes[p]!) === SPACE || code === TAB)) p++;
    if (digits > 0 && digits <= MAX_DIGITS && (p === end || bytes[p] === COMMA)) {
      const value = fraction > 0 ? mantissa / POWERS[fraction]! : mantissa;
      (columns[c] as Float64Array)[row * stride[c]! + offset[c]!] = negative ? -value : value;
      at = p;
      continue;
    }
    // Anything else: the cell as `Number` reads it (ASCII only), then the general checks.
    while (p < end && (code = bytes[p]!) !== COMMA) {
      if (code === QUOTE || code > 127) return false;
      p++;
    }
    const cell = bytes.toString('latin1', start, p);
    const value = Number(cell);
    // Only decimals (exponents too): `Number` also reads hex, binary and octal, and a blank as 0.
    if (!Number.isFinite(value) || !DECIMAL_TEXT.test(cell) || beyondFloat32(columns[c]!, value)) return false;
    (columns[c] as Float64Array)[row * stride[c]! + offset[c]!] = value;
    at = p;
  }
  return at === end; // more cells than columns: not clean
}
