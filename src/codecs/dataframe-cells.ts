/**
 * One dataframe cell as a JSON value of an input's datatype: the conversion every dataframe source
 * shares (CSV cells arrive as strings, Arrow and Parquet cells as numbers, bigints and booleans, JSON
 * records as JSON), for scalar columns (dataframe-codec.ts) and the elements of list cells
 * (list-inputs.ts). The datatype's own checks (ranges, FP32 overflow, 64-bit exactness) follow in
 * core's jsonToTensorData.
 */
import { VireoError } from '../core/errors.js';

export const bad = (message: string): never => {
  throw new VireoError('VIREO_ERR_INPUT_DATA', message);
};

/**
 * A decimal number as text (what CSV writers write, exponents included). `Number` alone also reads
 * "0x10", "0b101" and "0o7" and a blank string as 0: a cell holding those is refused instead.
 */
export const DECIMAL_TEXT = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/**
 * DECIMAL_TEXT's verdict on a string `Number` read as a finite number, mostly without the regular
 * expression (it runs once per CSV cell): such a string is a decimal unless it is blank or a
 * 0x / 0o / 0b literal, and those cannot begin with a sign, a point or a digit other than 0. Leading
 * whitespace (and a leading 0) takes the expression.
 */
export function finiteIsDecimal(text: string): boolean {
  const first = text.charCodeAt(0);
  if ((first >= 49 && first <= 57) || first === 43 || first === 45 || first === 46) return true; // 1-9 + - .
  if (first === 48 && (text.length === 1 || (text.charCodeAt(1) >= 48 && text.charCodeAt(1) <= 57) || text.charCodeAt(1) === 46)) return true;
  return DECIMAL_TEXT.test(text);
}

/**
 * A table cell as a JSON value of the input's datatype. `element`: the cell is that element of a list
 * cell, named in errors after its row and column.
 */
export function cellValue(value: unknown, datatype: string, row: number, column: string, element?: number): unknown {
  // The common cases first, and the error text built only on an error: this runs once per cell.
  const numeric = datatype !== 'BYTES' && datatype !== 'BOOL';
  if (numeric && typeof value === 'number') return value;
  if (numeric && typeof value === 'string' && value !== '' && datatype !== 'INT64' && datatype !== 'UINT64') {
    const n = Number(value);
    if (Number.isFinite(n) && finiteIsDecimal(value)) return n;
  }
  const where = `row ${row}, column "${column}"${element === undefined ? '' : `, element ${element}`}`;
  if (value === null || value === undefined) return bad(`${where}: value is missing`);
  if (datatype === 'BYTES') return typeof value === 'string' ? value : String(value);
  if (typeof value === 'bigint') return datatype === 'INT64' || datatype === 'UINT64' ? value.toString() : Number(value);
  if (typeof value === 'boolean') return datatype === 'BOOL' ? value : Number(value);
  if (typeof value === 'number') return datatype === 'BOOL' ? value !== 0 : value;
  if (typeof value !== 'string') return bad(`${where}: ${JSON.stringify(value)?.slice(0, 40)} is not a ${datatype} value`);
  if (value === '') return bad(`${where}: value is empty`);
  if (datatype === 'BOOL') {
    if (/^(true|1)$/i.test(value)) return true;
    if (/^(false|0)$/i.test(value)) return false;
    return bad(`${where}: "${value.slice(0, 40)}" is not a boolean`);
  }
  if ((datatype === 'INT64' || datatype === 'UINT64') && /^-?\d+$/.test(value)) return value;
  const n = Number(value);
  if (!Number.isFinite(n) || !finiteIsDecimal(value)) bad(`${where}: "${value.slice(0, 40)}" is not a number`);
  return n;
}
