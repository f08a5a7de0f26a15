/**
 * List columns as inputs: an input without a `columns` list whose dims hold more than one element per
 * row (dims [256], [-1], [2,3]) takes the column of its own name, whose cell in each row is a list of
 * values — an embedding column, as Ray Data, BentoML and Spark hand one over. A cell is a flat list of
 * the dims' element count (row-major), or, for fixed dims of more than one dimension, lists nested
 * exactly as the dims; one variable dim (-1) takes its size from row 0's list, and every other row of
 * the request must then have a list of the same length. Where the cells come from:
 *
 * - JSON records/columns: arrays (nested or flat); CSV: a cell holding a JSON array as text, which is
 *   what `vireo batch` writes for a list output in CSV (64-bit integers read exactly);
 * - Arrow List / LargeList / FixedSizeList of a numeric type: a ListColumn (list-column.ts), copied into
 *   the tensor in one piece where the element type is the input's (or FP32 from doubles, then checked);
 * - Parquet LIST columns of FLOAT, DOUBLE or INT32 without a null: a ListColumn decoded page by page
 *   (parquet-list-columns.ts); any other, or a chunk with a null or an empty list: arrays, as hyparquet assembles them.
 *
 * Invariant: every row's length is checked, and the tensor's bytes admitted to the request's budget,
 * before the tensor is allocated; elements get the checks a scalar cell gets (cellValue, then core's
 * jsonToTensorData: the datatype's range, FP32 overflow, 64-bit exactness), and an error names the row,
 * the column and the element.
 */
import { parseJsonExact } from '../core/exact-json-text.js';
import { jsonToTensorData } from '../core/json-tensors.js';
import type { TensorBytesBudget } from '../core/request-limits.js';
import type { Tensor, TensorData } from '../core/tensor.js';
import { bad, cellValue } from './dataframe-cells.js';
import { LIST_NULL, ListColumn, type ListElements } from './list-column.js';

export interface ListInput {
  name: string;
  data_type: string;
  dims: readonly number[];
}

/** Whether an input without `columns` takes a list per row: its dims are neither [] nor [1]. */
export function takesList(dims: readonly number[]): boolean {
  return !(dims.length === 0 || (dims.length === 1 && dims[0] === 1));
}

/** Why a list per row cannot fill these dims (a model-level reason); undefined when it can. */
export function listDimsProblem(input: ListInput): string | undefined {
  if (input.dims.filter((d) => d === -1).length > 1) return `input "${input.name}" has dims [${input.dims.join(',')}] and no "columns" list (a list per row gives the shape of one variable dimension at most)`;
  return undefined;
}

/** A cell's JSON text (a CSV cell): its array, 64-bit integers exact when the input takes them. */
function parsedText(text: string, datatype: string, row: number, column: string): unknown {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[')) return text;
  try {
    return datatype === 'INT64' || datatype === 'UINT64' ? parseJsonExact(trimmed) : JSON.parse(trimmed);
  } catch {
    return bad(`row ${row}, column "${column}": "${text.slice(0, 40)}" is not a JSON list`);
  }
}

/**
 * A nested cell (lists within lists, as the dims) flattened in row-major order; the nesting must
 * follow the dims exactly, so the result holds at most their element count.
 */
function flattened(cell: unknown[], dims: readonly number[], row: number, column: string): unknown[] {
  const out: unknown[] = [];
  const walk = (value: unknown, level: number): void => {
    if (level === dims.length) {
      if (Array.isArray(value)) bad(`row ${row}, column "${column}": lists nested deeper than the dims [${dims.join(',')}]`);
      out.push(value);
      return;
    }
    if (!Array.isArray(value) || value.length !== dims[level]) bad(`row ${row}, column "${column}": nested lists do not follow the dims [${dims.join(',')}] (send each row flat, or nested exactly as the dims)`);
    for (const item of value as unknown[]) walk(item, level + 1);
  };
  walk(cell, 0);
  return out;
}

/** One row's list as a flat array-like, or an error naming the row. */
function listCell(value: unknown, input: ListInput, row: number): ArrayLike<unknown> {
  const { name, dims, data_type: datatype } = input;
  if (typeof value === 'string') value = parsedText(value, datatype, row, name);
  if (value === null || value === undefined) return bad(`row ${row}, column "${name}": value is missing`);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return value as unknown as ArrayLike<unknown>;
  if (!Array.isArray(value)) {
    const shown = typeof value === 'string' ? `"${value.slice(0, 40)}"` : typeof value === 'bigint' ? String(value) : JSON.stringify(value)?.slice(0, 40);
    return bad(`row ${row}, column "${name}": ${shown} is not a list (input "${name}" takes a list of values a row, dims [${dims.join(',')}])`);
  }
  const nested = dims.length > 1 && !dims.includes(-1) && Array.isArray(value[0]);
  return nested ? flattened(value, dims, row, name) : value;
}

/**
 * The input's tensor from its list column (`column`: a ListColumn, or one cell per row). `budget`:
 * the request's byte budget, admitted before the tensor is allocated (absent for `vireo batch`'s own
 * full batches).
 */
export function listTensor(column: unknown, rows: number, input: ListInput, batched: boolean, budget: TensorBytesBudget | undefined): Tensor {
  const { name, dims } = input;
  const datatype = input.data_type as Tensor['datatype'];
  const variable = dims.includes(-1);
  const fixed = dims.reduce((product, d) => (d === -1 ? product : product * d), 1);
  const typed = column instanceof ListColumn ? column : undefined;
  const cells = typed ? undefined : new Array<ArrayLike<unknown>>(rows);
  let per = variable ? -1 : fixed;
  for (let r = 0; r < rows; r++) {
    let length: number;
    if (typed) {
      const flaw = typed.missing?.[r] ?? -1;
      if (flaw === LIST_NULL) bad(`row ${r}, column "${name}": value is missing`);
      if (flaw >= 0) bad(`row ${r}, column "${name}", element ${flaw}: value is missing`);
      length = typed.offsets[r + 1]! - typed.offsets[r]!;
    } else {
      const list = listCell((column as ArrayLike<unknown>)[r], input, r);
      cells![r] = list;
      length = list.length;
    }
    if (per === -1) {
      // Row 0 sets the variable dim; it must fill the fixed ones whole.
      if (length % fixed !== 0) bad(`row ${r}, column "${name}": a list of ${length} values does not fill dims [${dims.join(',')}] (a multiple of ${fixed})`);
      per = length;
    } else if (length !== per) {
      bad(variable
        ? `row ${r}, column "${name}": a list of ${length} values where row 0's has ${per} (the rows of one request must have lists of one length for dims [${dims.join(',')}])`
        : `row ${r}, column "${name}": a list of ${length} values, input "${name}" takes ${per} (dims [${dims.join(',')}])`);
    }
  }
  const count = rows * per;
  budget?.admit(datatype, count, `input "${name}"`);
  const rowShape = variable ? dims.map((d) => (d === -1 ? (fixed === 0 ? 0 : per / fixed) : d)) : [...dims];
  const data = typed ? fromListColumn(typed, rows, per, input) : fromCells(cells!, rows, per, input);
  return { name, datatype, shape: batched ? [rows, ...rowShape] : rowShape, data };
}

/** Element types copied as they are into an input of the datatype (FP16/BF16/BOOL share arrays with other meanings: never). */
const SAME_TYPE: Record<string, new (values: ListElements) => ListElements> = {
  FP32: Float32Array, FP64: Float64Array, INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, INT64: BigInt64Array,
  UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array,
};

/** A typed list column's rows [0, rows): one contiguous run of its elements (ListColumn's invariant). */
function fromListColumn(column: ListColumn, rows: number, per: number, input: ListInput): TensorData {
  const run = column.elements.subarray(column.offsets[0]!, column.offsets[rows]!);
  const same = SAME_TYPE[input.data_type];
  if (same && run.constructor === same) return new same(run) as TensorData;
  const bigint = run instanceof BigInt64Array || run instanceof BigUint64Array;
  if ((input.data_type === 'FP32' || input.data_type === 'FP64') && !bigint) {
    // Converted as the scalar path converts a number (a typed array's element assignment).
    const data = input.data_type === 'FP32' ? new Float32Array(run as Float64Array) : new Float64Array(run as Float64Array);
    if (data instanceof Float32Array && run instanceof Float64Array) {
      // A finite double beyond FP32's range became ±Infinity: refused by name, as the scalar path refuses it.
      for (let i = 0; i < data.length; i++) {
        if ((data[i] === Infinity || data[i] === -Infinity) && Number.isFinite(run[i])) overflow(Math.floor(i / per), input.name, i % per, run[i]!, 'FP32');
      }
    }
    return data;
  }
  // Any other pairing (64-bit integers into floats, doubles into INT32, …) takes the general path, element by element.
  const cells = Array.from({ length: rows }, (_, r) => run.subarray(r * per, (r + 1) * per) as ArrayLike<unknown>);
  return fromCells(cells, rows, per, input);
}

const overflow = (row: number, column: string, element: number, value: unknown, datatype: string): never =>
  bad(`row ${row}, column "${column}", element ${element}: ${String(value).slice(0, 40)} is beyond the range of ${datatype}`);

/** The rows' lists (each `per` long, checked) into the tensor's data. */
function fromCells(cells: readonly ArrayLike<unknown>[], rows: number, per: number, input: ListInput): TensorData {
  const { name } = input;
  const datatype = input.data_type as Tensor['datatype'];
  if (datatype === 'FP32' || datatype === 'FP64') {
    // The common case, one loop and no intermediate array: numbers straight into the tensor.
    const out = datatype === 'FP32' ? new Float32Array(rows * per) : new Float64Array(rows * per);
    for (let r = 0, at = 0; r < rows; r++) {
      const list = cells[r]!;
      for (let i = 0; i < per; i++, at++) {
        const v = list[i];
        const value = typeof v === 'number' ? v : cellValue(v, datatype, r, name, i) as number;
        out[at] = value;
        if ((out[at] === Infinity || out[at] === -Infinity) && Number.isFinite(value)) overflow(r, name, i, v, datatype);
      }
    }
    return out;
  }
  const values: unknown[] = [];
  for (let r = 0; r < rows; r++) {
    const list = cells[r]!;
    for (let i = 0; i < per; i++) values.push(cellValue(list[i], datatype, r, name, i));
  }
  try {
    return jsonToTensorData(values, datatype, values.length, `input "${name}"`);
  } catch (error) {
    // Named by the row that holds the element: the same check, row by row (only on this error path).
    for (let r = 0; r < rows; r++) jsonToTensorData(values.slice(r * per, (r + 1) * per), datatype, per, `row ${r}, column "${name}"`);
    throw error;
  }
}
