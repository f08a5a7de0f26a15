/**
 * Dataframe rows (CSV, Parquet, Arrow) → rows for runRows. A batch is a slice of the part's table,
 * turned into inputs by the REST dataframe mapping (InferenceServer.dataframeRequest: the model's
 * `columns`, cell conversion, the same errors). The `--id-column` is taken out of the table first and
 * carried to the output; every other column must be one the model takes, as over REST.
 */
import { tableColumnNames, type RowMajorColumns, type Table } from '../codecs/dataframe-codec.js';
import { VireoError } from '../core/errors.js';
import type { InferRequest } from '../core/inference.js';
import type { InputRows, RequestSpan } from './run-rows.js';

export type DataframeRequest = (table: Table) => InferRequest;

export interface DataframeChunk {
  /** The part's columns; values as the format gives them (CSV: strings). */
  columns: Map<string, unknown[]>;
  rows: number;
  /** Numeric columns read row by row (a CSV's or a Parquet row group's, see RowMajorColumns); never the id column. */
  rowMajor?: readonly RowMajorColumns[];
}

/** Splits the carried id column off; the rest is what the model gets. */
export function splitCarried(chunk: DataframeChunk, idColumn: string | undefined): { table: Table; carried?: Map<string, unknown[]> } {
  if (idColumn === undefined) return { table: { columns: chunk.columns, rows: chunk.rows, rowMajor: chunk.rowMajor } };
  const ids = chunk.columns.get(idColumn);
  // The input's columns include those read into row-major blocks (a CSV's or a row group's features).
  if (!ids) {
    const names = tableColumnNames(chunk);
    const shown = names.slice(0, 10).map((c) => `"${c}"`).join(', ') + (names.length > 10 ? `, … (${names.length} in all)` : '');
    throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `--id-column "${idColumn}" is not a column of the input (it has ${shown})`);
  }
  const columns = new Map(chunk.columns);
  columns.delete(idColumn);
  // Carried values are written out as JS values: a typed column (see ColumnChunk) becomes an array.
  return { table: { columns, rows: chunk.rows, rowMajor: chunk.rowMajor }, carried: new Map([[idColumn, Array.isArray(ids) ? ids : Array.from(ids)]]) };
}

/** Rows [start, end) of the table: typed columns and row-major blocks as views, other columns copied. */
export function sliceTable(table: Table, start: number, end: number): Table {
  if (start === 0 && end === table.rows) return table;
  const columns = new Map<string, unknown[]>();
  // A typed column (numeric CSV, Parquet, Arrow) is viewed, not copied: the batch only reads it.
  for (const [name, values] of table.columns) columns.set(name, ArrayBuffer.isView(values) ? (values as unknown as Float64Array).subarray(start, end) as unknown as unknown[] : values.slice(start, end));
  const rowMajor = table.rowMajor?.map(({ names, data }) => ({ names, data: data.subarray(start * names.length, end * names.length) }));
  return { columns, rows: end - start, rowMajor };
}

/** `failed`: rows known bad before mapping (a CSV line with more cells than the header). */
export function dataframeRows(table: Table, ids: string[], toRequest: DataframeRequest, failed?: Map<number, VireoError>): InputRows {
  return {
    ids,
    failed,
    requests(start: number, end: number): RequestSpan[] {
      const spans: RequestSpan[] = [];
      // One request per run of rows not known bad (all of them, almost always).
      for (let a = start; a < end;) {
        while (a < end && failed?.has(a)) a++;
        let b = a;
        while (b < end && !failed?.has(b)) b++;
        if (b > a) spans.push({ start: a, items: new Array<number>(b - a).fill(1), request: oneRowError(() => toRequest(sliceTable(table, a, b)), b - a) });
        a = b;
      }
      return spans;
    },
  };
}

/**
 * The REST mapping names a bad cell's row within the table it was given ("row 0, …"). A row retried
 * alone (run-rows.ts isolates the bad rows of a batch that way) is always its table's row 0, which
 * would name the wrong row: its error line carries the row's own id and position, so the message
 * drops the position.
 */
function oneRowError<T>(make: () => T, rows: number): T {
  try {
    return make();
  } catch (error) {
    if (rows !== 1 || !(error instanceof VireoError) || !error.message.startsWith('row 0, ')) throw error;
    throw new VireoError(error.code, error.message.slice('row 0, '.length));
  }
}

/**
 * A header that cannot work for any row (a missing or unknown column) stops the job at once with
 * the REST path's message, instead of failing every row one by one.
 */
export function checkHeader(table: Table, toRequest: DataframeRequest, path: string): void {
  if (table.rows === 0) return;
  try {
    toRequest(sliceTable(table, 0, 1));
  } catch (error) {
    const e = VireoError.from(error);
    if (/^(missing|unknown) column|does not take dataframes/.test(e.message.replace(/^model "[^"]*" /, ''))) {
      throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${path}: ${e.message}`);
    }
  }
}
