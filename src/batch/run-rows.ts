/**
 * Runs the rows of one part through the facade, in-process: rows are cut into full batches, a few
 * batches are in flight at once (so building the next batch overlaps inference of the current
 * one), and every row gets exactly one result, in input order.
 *
 * A batch that fails for a reason that may belong to one row (bad value, bad image, a shape that
 * does not fit, a failing execution) is retried row by row, so one bad row costs only itself; a
 * failure that concerns the whole job (model unavailable, shutting down) stops the run.
 *
 * Contract with readers (`InputRows`): row positions are 0-based within the part; `requests(a, b)`
 * builds the requests covering rows [a, b) (skipping rows listed in `failed`), each request covering
 * consecutive rows; it throws when a row in the range is bad, and the runner then asks again for
 * single rows. issue 15's `/v1/batches` feeds parsed JSONL lines through this same function.
 */
import { VireoError, type ErrorStatus, type SerializedError } from '../core/errors.js';
import type { InferRequest } from '../core/inference.js';
import type { Tensor } from '../core/tensor.js';
import { sliceOutputs } from '../scheduler/batch-tensors.js';

export interface RequestSpan {
  /** First row (position in the part) the request covers. */
  start: number;
  /** Batch items of each covered row, in order (a dataframe row or image is 1 item). */
  items: number[];
  request: InferRequest;
}

export interface InputRows {
  /** One id per row, in input order. */
  ids: string[];
  /** Rows known to be bad before inference (unparsable line, unreadable file), by position. */
  failed?: Map<number, VireoError>;
  /** The requests for rows [start, end), minus `failed` ones; throws when a row in range is bad. */
  requests(start: number, end: number): Promise<RequestSpan[]> | RequestSpan[];
}

export type RowResult =
  | { ok: true; outputs: Tensor[]; model: string; version: string }
  | { ok: false; error: SerializedError };

/** What the runner needs of the facade (InferenceServer implements it). */
export interface InferFacade {
  infer(request: InferRequest): Promise<{ model: string; version: string; outputs: Tensor[] }>;
}

/** Stage timings and counts, reported per batch (metrics, progress, summary). */
export interface RunRecorder {
  batch(rows: number, items: number, decodeSeconds: number, inferSeconds: number): void;
}

export interface RunRowsOptions {
  server: InferFacade;
  /** Rows per batch (a JSONL line with several items may make a batch larger in items). */
  batchSize: number;
  /** Batches in flight at once: enough to keep every instance busy while the next one is built. */
  maxInflight: number;
  recorder?: RunRecorder;
}

/** Statuses that concern one row, so the batch is retried row by row; anything else stops the job. */
const ROW_STATUSES = new Set<ErrorStatus>(['INVALID_ARGUMENT', 'INTERNAL', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED']);

export function isRowError(error: unknown): boolean {
  return ROW_STATUSES.has(VireoError.from(error).status);
}

const now = () => performance.now() / 1000;

/** One result per row of `rows`, in order. Rejects only with a job-level error. */
export async function runRows(rows: InputRows, options: RunRowsOptions): Promise<RowResult[]> {
  const count = rows.ids.length;
  const results: (RowResult | undefined)[] = new Array(count);
  for (const [row, error] of rows.failed ?? []) results[row] = { ok: false, error: error.toJSON() };
  let next = 0;
  // Each lane takes the next batch when its previous one is answered: `maxInflight` batches in flight.
  const lane = async (): Promise<void> => {
    while (next < count) {
      const start = next;
      const end = Math.min(count, start + options.batchSize);
      next = end;
      await runBatch(rows, start, end, results, options);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.maxInflight) }, lane));
  return results.map((r, i) => r ?? { ok: false, error: { code: 'VIREO_ERR_INTERNAL', message: `row ${rows.ids[i]} got no result` } });
}

async function runBatch(rows: InputRows, start: number, end: number, results: (RowResult | undefined)[], options: RunRowsOptions): Promise<void> {
  const t0 = now();
  let spans: RequestSpan[];
  try {
    spans = await rows.requests(start, end);
  } catch (error) {
    if (!isRowError(error)) throw error;
    return runEachRow(rows, start, end, results, options);
  }
  const t1 = now();
  let items = 0;
  let covered = 0;
  await Promise.all(spans.map(async (span) => {
    try {
      const response = await options.server.infer(span.request);
      store(span, response, results);
    } catch (error) {
      if (!isRowError(error)) throw error;
      if (span.items.length === 1) results[span.start] = { ok: false, error: VireoError.from(error).toJSON() };
      else await runEachRow(rows, span.start, span.start + span.items.length, results, options);
    }
    items += span.items.reduce((a, b) => a + b, 0);
    covered += span.items.length;
  }));
  options.recorder?.batch(covered, items, t1 - t0, now() - t1);
}

/** Isolates the bad rows of a failed batch: every row alone. */
async function runEachRow(rows: InputRows, start: number, end: number, results: (RowResult | undefined)[], options: RunRowsOptions): Promise<void> {
  for (let row = start; row < end; row++) {
    if (results[row]) continue;
    try {
      const spans = await rows.requests(row, row + 1);
      for (const span of spans) store(span, await options.server.infer(span.request), results);
    } catch (error) {
      if (!isRowError(error)) throw error;
      results[row] = { ok: false, error: VireoError.from(error).toJSON() };
    }
  }
}

/** The batch's outputs, sliced along dim 0 per row (views, no copy). */
function store(span: RequestSpan, response: { model: string; version: string; outputs: Tensor[] }, results: (RowResult | undefined)[]): void {
  const total = span.items.reduce((a, b) => a + b, 0);
  if (span.items.length === 1) {
    results[span.start] = { ok: true, outputs: response.outputs, model: response.model, version: response.version };
    return;
  }
  let offset = 0;
  span.items.forEach((items, i) => {
    results[span.start + i] = { ok: true, outputs: sliceOutputs(response.outputs, offset, items, total), model: response.model, version: response.version };
    offset += items;
  });
}
