/**
 * A part's results → the bytes of its output file, and its failed rows → the errors file.
 *
 * JSONL follows OpenAI's batch output: one line per successful row,
 * `{"id", "custom_id", "response": {"status_code": 200, "request_id", "body": <OIP response>}, "error": null}`;
 * failed rows go to the errors file as `{"id", "custom_id", "response": null, "error": {"code", "message"}}`.
 * CSV, Parquet and Arrow have the row id column (`id`, or `row` when that name is taken: see
 * rowIdColumn), any carried column, then one column per output: a scalar when the output has one element
 * per row, else a list (CSV: a JSON array). Ids and part names are deterministic, so a rerun writes
 * byte-identical files.
 */
import { VireoError } from '../core/errors.js';
import { cellsOf, writeArrow, writeParquet, type OutputColumn } from '../codecs/columnar-files.js';
import type { DataType } from '../core/datatypes.js';
import { stringifyJsonExact } from '../core/exact-json-text.js';
import { tensorDataToJson } from '../core/json-tensors.js';
import type { Tensor } from '../core/tensor.js';
import { RowView, type RowResult } from './run-rows.js';

export const OUTPUT_FORMATS = ['jsonl', 'csv', 'parquet', 'arrow'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface OutputSpec {
  name: string;
  datatype: DataType;
  /** One element per row: a scalar column. */
  scalar: boolean;
}

export interface PartResults {
  part: string;
  ids: string[];
  carried?: Map<string, unknown[]>;
  results: RowResult[];
}

const encoder = new TextEncoder();

/** The id a row is known by in outputs: its carried id value when there is one, else its own. */
function customId(part: PartResults, row: number): string {
  const carried = part.carried?.values().next().value as unknown[] | undefined;
  const value = carried?.[row];
  return value === undefined || value === null ? part.ids[row]! : String(value);
}

function tensorJson(t: Tensor): Record<string, unknown> {
  return { name: t.name, datatype: t.datatype, shape: t.shape, data: tensorDataToJson(t.data, t.datatype) };
}

export function encodeJsonl(part: PartResults): Uint8Array {
  let text = '';
  part.results.forEach((result, row) => {
    if (!result.ok) return;
    const id = `batch_req_${part.part}_${row}`;
    const body = { model_name: result.model, model_version: result.version, outputs: result.outputs.map(tensorJson) };
    // Exact: an INT64 answer beyond ±2^53 is a BigInt, which JSON.stringify refuses.
    text += `${stringifyJsonExact({ id, custom_id: customId(part, row), response: { status_code: 200, request_id: id, body }, error: null })}\n`;
  });
  return encoder.encode(text);
}

export function encodeErrors(part: PartResults): Uint8Array {
  let text = '';
  part.results.forEach((result, row) => {
    if (result.ok) return;
    const carried = part.carried ? Object.fromEntries([...part.carried].map(([k, v]) => [k, v[row]])) : undefined;
    text += `${JSON.stringify({ id: `batch_req_${part.part}_${row}`, custom_id: customId(part, row), row: part.ids[row], ...(carried ? { carried } : {}), response: null, error: result.error })}\n`;
  });
  return encoder.encode(text);
}

const COLUMN_TYPES: Partial<Record<DataType, OutputColumn['type']>> = {
  FP32: 'float32', FP16: 'float32', BF16: 'float32', FP64: 'float64',
  INT8: 'int32', INT16: 'int32', INT32: 'int32', UINT8: 'int32', UINT16: 'int32',
  UINT32: 'int64', INT64: 'int64', UINT64: 'int64', BOOL: 'bool', BYTES: 'string',
};

/**
 * The name of the row id column of a columnar output: `id`, unless the carried column (`--id-column id`,
 * a common name for a table's own key) or an output is called that: then `row`, the errors file's name
 * for the same value. Both kept, nothing lost; a name still taken twice is refused (a file with two
 * columns of one name reads back as one).
 */
export function rowIdColumn(carried: string | undefined, outputs: readonly OutputSpec[]): string {
  const taken = [...(carried === undefined ? [] : [carried]), ...outputs.map((o) => o.name)];
  const name = ['id', 'row'].find((n) => !taken.includes(n));
  const twice = taken.find((n, i) => taken.indexOf(n) !== i);
  if (name === undefined || twice !== undefined) {
    throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `the output would have two columns named "${twice ?? 'row'}" (row id "id" or "row", --id-column ${carried === undefined ? 'none' : `"${carried}"`}, outputs ${outputs.map((o) => `"${o.name}"`).join(', ')}); choose another --id-column or --output-format jsonl`);
  }
  return name;
}

/** The columns of a part: row id, carried, outputs (successful rows only); `scratch`: see FlatScratch. */
export function outputColumns(part: PartResults, outputs: readonly OutputSpec[], scratch?: FlatScratch): OutputColumn[] {
  const ok = part.results.map((r, i) => (r.ok ? i : -1)).filter((i) => i >= 0);
  const idName = rowIdColumn(part.carried?.keys().next().value as string | undefined, outputs);
  const columns: OutputColumn[] = [{ name: idName, type: 'string', list: false, values: ok.map((i) => part.ids[i]) }];
  for (const [name, values] of part.carried ?? []) {
    columns.push({ name, type: 'string', list: false, values: ok.map((i) => (values[i] === null || values[i] === undefined ? null : String(values[i]))) });
  }
  for (const spec of outputs) {
    const type = COLUMN_TYPES[spec.datatype] ?? 'float64';
    const flat = spec.scalar ? undefined : flatColumn(part, ok, spec, scratch);
    if (flat) {
      columns.push({ name: spec.name, type, list: true, values: [], flat });
      continue;
    }
    const values = ok.map((i) => {
      const result = part.results[i] as Extract<RowResult, { ok: true }>;
      const tensor = result.outputs.find((t) => t.name === spec.name);
      if (!tensor) return null;
      let cells = tensorDataToJson(tensor.data, tensor.datatype);
      if (type === 'int64') cells = cells.map((v) => BigInt(v as number));
      return spec.scalar ? (cells[0] ?? null) : cells;
    });
    columns.push({ name: spec.name, type, list: !spec.scalar, values });
  }
  return columns;
}

const FLAT_ARRAYS = { FP32: Float32Array, FP64: Float64Array, INT32: Int32Array } as const;
type FlatArray = Float32Array | Float64Array | Int32Array;

/**
 * The flat output columns of one job's parts, written into the same arrays part after part: a part's
 * bytes are copied out of them (into the Arrow, CSV or Parquet file) before encodePart returns, and
 * parts are encoded one at a time. A new megabyte per part would be external memory to V8, and
 * every few megabytes of that cost a full garbage collection.
 */
export class FlatScratch {
  readonly #arrays = new Map<string, FlatArray>();

  array(name: string, Ctor: (typeof FLAT_ARRAYS)[keyof typeof FLAT_ARRAYS], length: number): FlatArray {
    let array = this.#arrays.get(name);
    if (!array || array.constructor !== Ctor || array.length < length) this.#arrays.set(name, array = new Ctor(length));
    return array.subarray(0, length);
  }
}

/** One typed array for a numeric output with the same element count in every row (no JS value per element). */
function flatColumn(part: PartResults, ok: number[], spec: OutputSpec, scratch?: FlatScratch): OutputColumn['flat'] {
  const Ctor = FLAT_ARRAYS[spec.datatype as keyof typeof FLAT_ARRAYS];
  if (!Ctor || ok.length === 0) return undefined;
  if (ok.every((i) => part.results[i] instanceof RowView)) return viewsColumn(ok.map((i) => part.results[i] as RowView), spec, Ctor, scratch);
  const tensors = ok.map((i) => (part.results[i] as Extract<RowResult, { ok: true }>).outputs.find((t) => t.name === spec.name));
  const size = (tensors[0]?.data as ArrayLike<number> | undefined)?.length;
  if (size === undefined || size === 0 || tensors.some((t) => !t || (t.data as ArrayLike<number>).length !== size)) return undefined;
  const data = scratch ? scratch.array(spec.name, Ctor, size * tensors.length) : new Ctor(size * tensors.length);
  tensors.forEach((t, r) => data.set(t!.data as never, r * size));
  return { size, data };
}

/**
 * flatColumn over rows that are views of their requests' outputs: each run of rows that are
 * consecutive in one request's output is copied at once, without a tensor per row.
 */
function viewsColumn(views: RowView[], spec: OutputSpec, Ctor: (typeof FLAT_ARRAYS)[keyof typeof FLAT_ARRAYS], scratch?: FlatScratch): OutputColumn['flat'] {
  // Looked up once per request: consecutive rows are views of the same outputs.
  let lastOutputs: readonly Tensor[] | undefined;
  let lastSource: { values: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> }; perItem: number } | undefined;
  const sources = views.map((view) => {
    if (view.batchOutputs === lastOutputs) return lastSource;
    lastOutputs = view.batchOutputs;
    const tensor = view.batchOutputs.find((t) => t.name === spec.name);
    const values = tensor && !Array.isArray(tensor.data) ? (tensor.data as ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> }) : undefined;
    return (lastSource = values && view.batchItems > 0 ? { values, perItem: values.length / view.batchItems } : undefined);
  });
  const size = sources[0] ? sources[0].perItem * views[0]!.items : 0;
  if (size === 0 || sources.some((source, r) => !source || source.perItem * views[r]!.items !== size)) return undefined;
  const data = scratch ? scratch.array(spec.name, Ctor, size * views.length) : new Ctor(size * views.length);
  for (let r = 0; r < views.length;) {
    const { values, perItem } = sources[r]!;
    let end = r + 1;
    while (end < views.length && views[end]!.batchOutputs === views[r]!.batchOutputs && views[end]!.offset === views[end - 1]!.offset + views[end - 1]!.items) end++;
    const from = views[r]!.offset * perItem;
    data.set(values.subarray(from, from + (end - r) * size) as never, r * size);
    r = end;
  }
  return { size, data };
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = Array.isArray(value) ? stringifyJsonExact(value) : String(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

export function encodeCsv(columns: readonly OutputColumn[]): Uint8Array {
  const cells = columns.map(cellsOf);
  const rows = cells[0]?.length ?? 0;
  const lines = [columns.map((c) => csvCell(c.name)).join(',')];
  for (let r = 0; r < rows; r++) lines.push(cells.map((c) => csvCell(c[r])).join(','));
  return encoder.encode(`${lines.join('\n')}\n`);
}

/** `scratch`: reused for the flat columns (see FlatScratch); the bytes returned never share its memory. */
export function encodePart(format: OutputFormat, part: PartResults, outputs: readonly OutputSpec[], scratch?: FlatScratch): Uint8Array {
  if (format === 'jsonl') return encodeJsonl(part);
  const columns = outputColumns(part, outputs, scratch);
  if (format === 'csv') return encodeCsv(columns);
  if (format === 'parquet') return writeParquet(columns);
  return writeArrow(columns);
}
