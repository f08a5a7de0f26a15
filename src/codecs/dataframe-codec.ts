/**
 * Dataframes in: CSV (csv-parse), Apache Arrow IPC (stream or file, apache-arrow) and JSON
 * records or columns become one table, and the table's named columns become the model's inputs,
 * one row per batch item. An input takes the columns its configuration lists (`columns`, in
 * order, along its last dimension) or else the one column of its own name: a scalar per row for dims
 * [] or [1], a list per row for any other dims (list-inputs.ts). Columns missing from
 * the table or unknown to the model are refused, as are values that do not fit the datatype.
 * csv-parse and apache-arrow load on the first body that needs them: a server that never sees a CSV or
 * Arrow body does not carry them (≈ 6 MiB of the main thread).
 */
import type { Table as ArrowTable } from 'apache-arrow';
import { VireoError } from '../core/errors.js';
import { jsonToTensorData } from '../core/json-tensors.js';
import { checkDataframeSize, TensorBytesBudget } from '../core/request-limits.js';
import type { Tensor } from '../core/tensor.js';
import { bad, cellValue } from './dataframe-cells.js';
import type { CodecTensorConfig } from './image-codec.js';
import { listDimsProblem, listTensor, takesList } from './list-inputs.js';

export { DECIMAL_TEXT, finiteIsDecimal } from './dataframe-cells.js';

export interface Table {
  columns: Map<string, unknown[]>;
  rows: number;
  /** More columns, stored row by row (not in `columns`): see RowMajorColumns. */
  rowMajor?: readonly RowMajorColumns[];
}

/**
 * Numeric columns stored row by row in one typed array: column `names[j]` of row `r` is
 * `data[r * names.length + j]`. `vireo batch` reads a CSV (and decodes a Parquet row group) straight
 * into this layout when the columns are, in order, the `columns` of one FP32/FP64 input (specs:
 * row-major-layout.ts), so the input's tensor is a copy of `data` rather than one value at a time
 * gathered from each column (8 % of the job's main thread over the batch benchmark's 256 columns).
 */
export interface RowMajorColumns {
  names: readonly string[];
  data: Float32Array | Float64Array;
}

/** Every column name of the table, row-major ones included. */
export function tableColumnNames(table: Table): string[] {
  const names = [...table.columns.keys()];
  for (const block of table.rowMajor ?? []) names.push(...block.names);
  return names;
}

export const DATAFRAME_TYPES = {
  csv: 'text/csv',
  arrowStream: 'application/vnd.apache.arrow.stream',
  arrowFile: 'application/vnd.apache.arrow.file',
} as const;

function tableOf(names: readonly string[], columns: unknown[][], what: string): Table {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) bad(`${what}: column "${name}" appears twice`);
    seen.add(name);
  }
  return { columns: new Map(names.map((n, i) => [n, columns[i]!])), rows: columns[0]?.length ?? 0 };
}

export async function parseCsv(bytes: Uint8Array): Promise<Table> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bad('the CSV body is not valid UTF-8');
  }
  const { parse: parseCsvText } = await import('csv-parse/sync');
  let records: string[][];
  // Rows and columns are checked record by record as the parser makes them, so a body over a
  // limit is refused at the first record past it, before the rest is parsed.
  const onRecord = (record: string[], context: { records: number }) => {
    checkDataframeSize(context.records - 1, record.length, 'the CSV body');
    return record;
  };
  try {
    records = parseCsvText(text, { bom: true, trim: true, skip_empty_lines: true, on_record: onRecord }) as string[][];
  } catch (error) {
    if (error instanceof VireoError) throw error;
    return bad(`the CSV body cannot be parsed: ${(error as Error).message}`);
  }
  if (records.length === 0) bad('the CSV body is empty (expected a header row, then data rows)');
  const [header, ...rows] = records;
  return tableOf(header!, header!.map((_, c) => rows.map((r) => r[c])), 'CSV');
}

export async function parseArrow(bytes: Uint8Array): Promise<Table> {
  const [{ tableFromIPC }, { checkArrowIpc }, { arrowCells }] = await Promise.all([import('apache-arrow'), import('./arrow-ipc-check.js'), import('./arrow-list-columns.js')]);
  let table: ArrowTable;
  try {
    // apache-arrow trusts the metadata's counts (a flipped byte made it build billions of objects).
    checkArrowIpc(bytes);
    table = tableFromIPC(bytes);
  } catch (error) {
    return bad(`the body is not a valid Arrow IPC stream or file: ${(error as Error).message}`);
  }
  const names = table.schema.fields.map((f) => f.name);
  // The IPC metadata gives both before any cell becomes a JS value (a column of nulls needs no buffer,
  // so a small body may declare billions of rows).
  checkDataframeSize(table.numRows, names.length, 'the Arrow table');
  let columns: unknown[][];
  try {
    // Decoding is lazy: metadata that passed the checks may still not fit together (a node without its
    // data). A list column of numbers comes as a ListColumn, its elements never JS values.
    columns = names.map((n) => {
      const vector = table.getChild(n);
      return vector ? arrowCells(vector, n) : [];
    });
  } catch (error) {
    return bad(`the body is not a valid Arrow IPC stream or file: ${(error as Error).message}`);
  }
  return tableOf(names, columns, 'Arrow table');
}

/** JSON records (`[{col: v}, …]`) or columns (`{col: [v, …]}`); undefined for anything else. */
export function jsonTable(body: unknown): Table | undefined {
  if (Array.isArray(body)) {
    if (body.length === 0) return bad('the records array is empty');
    const first = body[0];
    if (typeof first !== 'object' || first === null || Array.isArray(first)) return bad('records must be JSON objects');
    const names = Object.keys(first);
    checkDataframeSize(body.length, names.length, 'the records');
    // Linear in the cells: the check was quadratic in the columns per record, and a 19 MB body of
    // 1,000 records × 2,048 columns (both within the default limits) held the event loop for 8 s.
    const known = new Set(names);
    body.forEach((record, r) => {
      if (typeof record !== 'object' || record === null || Array.isArray(record)) bad(`record ${r} is not a JSON object`);
      const keys = Object.keys(record);
      // An object's keys are distinct: all of them known and as many as record 0's is the same set.
      let odd = keys.find((k) => !known.has(k));
      if (odd === undefined && keys.length !== names.length) {
        const present = new Set(keys);
        odd = names.find((k) => !present.has(k));
      }
      if (odd !== undefined) bad(`record ${r} does not have the same columns as record 0 (column "${odd}")`);
    });
    return refuseOverflowLiterals(tableOf(names, names.map((n) => body.map((record) => (record as Record<string, unknown>)[n])), 'records'));
  }
  if (typeof body !== 'object' || body === null || 'inputs' in body) return undefined;
  const entries = Object.entries(body);
  if (entries.length === 0 || !entries.every(([, v]) => Array.isArray(v))) return undefined;
  const rows = (entries[0]![1] as unknown[]).length;
  checkDataframeSize(rows, entries.length, 'the columns');
  for (const [name, values] of entries) {
    if ((values as unknown[]).length !== rows) bad(`column "${name}" has ${(values as unknown[]).length} values, column "${entries[0]![0]}" has ${rows}`);
  }
  return refuseOverflowLiterals(tableOf(entries.map(([n]) => n), entries.map(([, v]) => v as unknown[]), 'columns'));
}

/**
 * A table read from JSON text holds an infinity only where the text had a number literal beyond the
 * double range (`1e400`; JSON has no Infinity token): refused naming the cell, as the tensor JSON path
 * refuses one (jsonTextToTensorData). Arrow, Parquet and CSV tables keep their infinities.
 */
function refuseOverflowLiterals(table: Table): Table {
  const refuse = (value: number, row: number, column: string, element: number | undefined): never =>
    bad(`row ${row}, column "${column}"${element === undefined ? '' : `, element ${element}`}: a number literal beyond ${value < 0 ? '-' : ''}1.7976931348623157e308 (read as ${value}) is beyond the range of a double`);
  const infinite = (value: unknown): value is number => value === Infinity || value === -Infinity;
  for (const [column, cells] of table.columns) {
    for (let r = 0; r < cells.length; r++) {
      const cell = cells[r];
      if (infinite(cell)) refuse(cell, r, column, undefined);
      if (!Array.isArray(cell)) continue;
      // A list cell (list-inputs.ts), nested as its input's dims, walked without recursion (a JSONL line's
      // depth is bounded by its length only); an error names the top-level element holding the number.
      for (let i = 0; i < cell.length; i++) {
        const pending: unknown[] = [cell[i]];
        while (pending.length > 0) {
          const value = pending.pop();
          if (infinite(value)) refuse(value, r, column, i);
          if (Array.isArray(value)) for (const inner of value) pending.push(inner);
        }
      }
    }
  }
  return table;
}

export interface DataframeInput extends CodecTensorConfig { columns?: string[] }

/** Which columns fill which input; the reason when the model cannot take a dataframe. */
export function dataframeColumns(inputs: readonly DataframeInput[]): Map<string, string[]> | string {
  const map = new Map<string, string[]>();
  for (const input of inputs) {
    if (input.columns) {
      if (input.dims.length !== 1 || (input.dims[0] !== -1 && input.dims[0] !== input.columns.length)) {
        throw new VireoError('VIREO_ERR_CONFIG_INVALID', `input "${input.name}": ${input.columns.length} columns need dims [${input.columns.length}], not [${input.dims.join(',')}]`);
      }
      map.set(input.name, input.columns);
    } else {
      // A scalar column of the input's name, or for dims of more than one element a list column (list-inputs.ts).
      const problem = takesList(input.dims) ? listDimsProblem(input) : undefined;
      if (problem) return problem;
      map.set(input.name, [input.name]);
    }
  }
  return map;
}

/**
 * `perRequestBounds`: admit the tensors against the per-request byte limits (a client's request);
 * false for the full batches `vireo batch` assembles from its own files, whose size its batch size sets.
 */
export function tableToInputs(table: Table, inputs: readonly DataframeInput[], columns: Map<string, string[]>, batched: boolean, perRequestBounds = true): Tensor[] {
  const expected = [...columns.values()].flat();
  const present = tableColumnNames(table);
  const presentSet = new Set(present);
  const missing = expected.filter((c) => !presentSet.has(c));
  if (missing.length > 0) bad(`missing column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} (the model takes ${expected.map((c) => `"${c}"`).join(', ')})`);
  const taken = new Set(expected);
  const extra = present.filter((c) => !taken.has(c));
  if (extra.length > 0) bad(`unknown column${extra.length > 1 ? 's' : ''} ${extra.map((c) => `"${c}"`).join(', ')} (the model takes ${expected.map((c) => `"${c}"`).join(', ')})`);
  if (table.rows === 0) bad('the table has no rows');
  if (!batched && table.rows !== 1) bad(`this model takes one row per request, got ${table.rows}`);
  const budget = new TensorBytesBudget();
  return inputs.map((input) => {
    const names = columns.get(input.name)!;
    if (!input.columns && takesList(input.dims)) return listTensor(table.columns.get(input.name), table.rows, input, batched, perRequestBounds ? budget : undefined);
    if (perRequestBounds) budget.admit(input.data_type, table.rows * names.length, `input "${input.name}"`);
    const dims = input.columns ? [names.length] : input.dims;
    const shape = batched ? [table.rows, ...dims] : dims;
    const block = table.rowMajor?.find((b) => sameNames(b.names, names));
    if (block && (input.data_type === 'FP32' || input.data_type === 'FP64')) {
      // Already the tensor's layout: copied (converted where the datatype differs), so the tensor owns
      // its buffer whole (it may be moved to the instance's thread) and the table's may be reused.
      const view = block.data.subarray(0, table.rows * names.length);
      const data = input.data_type === 'FP32' ? new Float32Array(view) : new Float64Array(view);
      if (view instanceof Float64Array && data instanceof Float32Array) checkNarrowed(view, data, names, input.name);
      return { name: input.name, datatype: input.data_type, shape, data };
    }
    const source = names.map((name) => table.columns.get(name) ?? rowMajorColumn(table, name));
    if ((input.data_type === 'FP32' || input.data_type === 'FP64') && source.every(isFloatColumn)) {
      // Typed float columns (Parquet, Arrow, numeric CSV columns): straight into the tensor. The
      // values are what cellValue() would give (it returns numbers as they are), without a JS value per cell.
      const data = interleave(source as unknown as FloatColumn[], table.rows, input.data_type);
      if (data instanceof Float32Array && source.some((c) => c instanceof Float64Array)) checkNarrowed(source as unknown as FloatColumn[], data, names, input.name);
      return { name: input.name, datatype: input.data_type, shape, data };
    }
    // Filled in order with push: a large `new Array(n)` written out of order is a sparse (dictionary)
    // array in V8, which cost ≈ 2 µs per cell here (measured with 256 columns × 1,024 rows).
    const values: unknown[] = [];
    for (let r = 0; r < table.rows; r++) {
      for (let j = 0; j < source.length; j++) values.push(cellValue(source[j]![r], input.data_type, r, names[j]!));
    }
    return { name: input.name, datatype: input.data_type, shape, data: jsonToTensorData(values, input.data_type, values.length, `input "${input.name}"`) };
  });
}

/**
 * An FP32 tensor made from FP64 values holds ±Infinity only where a finite value was beyond FP32's range
 * (or the value was an infinity already): the first such cell is refused, naming its row and column,
 * as the JSON path refuses it (core/json-tensors.ts), instead of running on an infinity. `from` is the
 * row-major source, or one column per name.
 */
function checkNarrowed(from: Float64Array | readonly FloatColumn[], data: Float32Array, names: readonly string[], input: string): void {
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== Infinity && data[i] !== -Infinity) continue;
    const row = Math.floor(i / names.length);
    const column = i % names.length;
    const value = from instanceof Float64Array ? from[i]! : from[column]![row]!;
    if (Number.isFinite(value)) bad(`row ${row}, column "${names[column]}" of input "${input}": ${value} is beyond the range of FP32`);
  }
}

const sameNames = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((name, j) => name === b[j]);

/** One column out of the row-major block that holds it (an input that takes it in another layout). */
function rowMajorColumn(table: Table, name: string): unknown[] {
  for (const { names, data } of table.rowMajor ?? []) {
    const j = names.indexOf(name);
    if (j < 0) continue;
    const column = data instanceof Float32Array ? new Float32Array(table.rows) : new Float64Array(table.rows);
    for (let r = 0, at = j; r < table.rows; r++, at += names.length) column[r] = data[at]!;
    return column as unknown as unknown[];
  }
  throw new VireoError('VIREO_ERR_INTERNAL', `column "${name}" is not in the table`);
}

type FloatColumn = Float32Array | Float64Array;
const isFloatColumn = (column: unknown): boolean => column instanceof Float64Array || column instanceof Float32Array;

/** Row-major [rows, columns.length] from one typed array per column. */
function interleave(columns: readonly FloatColumn[], rows: number, datatype: 'FP32' | 'FP64'): FloatColumn {
  const width = columns.length;
  const out = datatype === 'FP32' ? new Float32Array(rows * width) : new Float64Array(rows * width);
  for (let j = 0; j < width; j++) {
    const column = columns[j]!;
    for (let r = 0, at = j; r < rows; r++, at += width) out[at] = column[r]!;
  }
  return out;
}
