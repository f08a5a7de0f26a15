/**
 * Runs the rows of one part through the facade, in-process: rows are cut into full batches, a few
 * batches are in flight at once (so building the next batch overlaps inference of the current
 * one), and every row gets exactly one result, in input order.
 *
 * A batch that fails for a reason that may belong to one row (bad value, bad image, a shape that
 * does not fit, a failing execution) is halved until the bad rows stand alone (`halves`), so one bad
 * row fails only itself and the others still run in batches; a failure that concerns the whole job
 * (model unavailable, shutting down) stops the run.
 *
 * Contract with readers (`InputRows`): row positions are 0-based within the part; `requests(a, b)`
 * builds the requests covering rows [a, b) (skipping rows listed in `failed`), each request covering
 * consecutive rows; it throws when a row in the range is bad, and the runner then asks again for
 * halves of the range, down to single rows. The server's `/v1/batches` feeds parsed JSONL lines through this same function.
 *
 * Stopping (`signal`): once aborted, no new batch starts, the batches in flight are answered, and any
 * failure from then on stops the run rather than failing its rows (the stop itself may be its cause);
 * the run then rejects with VIREO_ERR_REQUEST_CANCELLED unless every row already had its result.
 */
import { VireoError, type ErrorStatus, type SerializedError } from '../core/errors.js';
import type { InferRequest, Parameters } from '../core/inference.js';
import type { Tensor } from '../core/tensor.js';
import { checkBatchDimension, sliceOutputs } from '../scheduler/batch-tensors.js';

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
  | { ok: true; outputs: Tensor[]; model: string; version: string; parameters?: Parameters }
  | { ok: false; error: SerializedError };

/**
 * One row of a multi-row request whose outputs are sliced out of the request's only when read
 * (RunRowsOptions.rowViews). A columnar writer copies a whole run of such rows at once from the
 * request's outputs (`batchOutputs`, `offset`) and never makes a tensor per row: over the batch
 * benchmark's MLP those per-row tensors were ≈ 600 B of garbage a row that lived until the part's
 * commit (long enough to be promoted, so each part fed the next full collection).
 */
export class RowView {
  readonly ok = true as const;
  #outputs: Tensor[] | undefined;

  constructor(
    /** The request's outputs, batch dimension first. */
    readonly batchOutputs: readonly Tensor[],
    /** The row's first item in them, its items and the request's items. */
    readonly offset: number,
    readonly items: number,
    readonly batchItems: number,
    readonly model: string,
    readonly version: string,
  ) {}

  get outputs(): Tensor[] {
    return (this.#outputs ??= sliceOutputs(this.batchOutputs, this.offset, this.items, this.batchItems));
  }
}

/** What the runner needs of the facade (InferenceServer implements it). */
export interface InferFacade {
  infer(request: InferRequest): Promise<{ model: string; version: string; outputs: Tensor[]; parameters?: Parameters }>;
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
  /** Aborted: see "Stopping" above. */
  signal?: AbortSignal;
  /**
   * Errors that do not concern one row but fail the rows of the batch they hit instead of stopping
   * the run (an API answers each request with its error; `vireo batch` stops: none).
   */
  failRowsOn?: (error: VireoError) => boolean;
  /**
   * Rows of multi-row requests as RowView (outputs sliced when read) instead of sliced at once. Only
   * for results used in this thread: a RowView posted to another thread loses its outputs.
   */
  rowViews?: boolean;
}

/** Statuses that concern one row, so the batch is retried row by row; anything else stops the job. */
const ROW_STATUSES = new Set<ErrorStatus>(['INVALID_ARGUMENT', 'INTERNAL', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED']);

/**
 * Errors of one row whose status would otherwise stop the job: a line naming a sequence that is not
 * running (ended, or never started) is NOT_FOUND, as over REST, like an unknown model, which does stop it.
 */
const ROW_CODES = new Set(['VIREO_ERR_SEQUENCE_UNKNOWN']);

export function isRowError(error: unknown): boolean {
  const { status, code } = VireoError.from(error);
  return ROW_STATUSES.has(status) || ROW_CODES.has(code);
}

/** What a failed request means: retry its rows one by one, fail them all, or stop the run. */
function verdict(error: unknown, options: RunRowsOptions): 'split' | 'fail' | 'stop' {
  if (options.signal?.aborted) return 'stop';
  if (isRowError(error)) return 'split';
  return options.failRowsOn?.(VireoError.from(error)) ? 'fail' : 'stop';
}

const cancelled = () => new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'the run was stopped before every row was answered');

const now = () => performance.now() / 1000;

/** One result per row of `rows`, in order. Rejects only with a job-level error. */
export async function runRows(rows: InputRows, options: RunRowsOptions): Promise<RowResult[]> {
  const count = rows.ids.length;
  const results: (RowResult | undefined)[] = new Array(count);
  for (const [row, error] of rows.failed ?? []) results[row] = { ok: false, error: error.toJSON() };
  let next = 0;
  // Each lane takes the next batch when its previous one is answered: `maxInflight` batches in flight.
  const lane = async (): Promise<void> => {
    while (next < count && !options.signal?.aborted) {
      const start = next;
      const end = Math.min(count, start + options.batchSize);
      next = end;
      await runBatch(rows, start, end, results, options);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.maxInflight) }, lane));
  if (next < count || (options.signal?.aborted && results.includes(undefined))) throw cancelled();
  return results.map((r, i) => r ?? { ok: false, error: { code: 'VIREO_ERR_INTERNAL', message: `row ${rows.ids[i]} got no result` } });
}

async function runBatch(rows: InputRows, start: number, end: number, results: (RowResult | undefined)[], options: RunRowsOptions): Promise<void> {
  const t0 = now();
  let spans: RequestSpan[];
  try {
    spans = await rows.requests(start, end);
  } catch (error) {
    const what = verdict(error, options);
    if (what === 'stop') throw error;
    if (what === 'fail') return failRows(start, end, error, results);
    if (end - start === 1) {
      results[start] ??= { ok: false, error: VireoError.from(error).toJSON() };
      return;
    }
    return halves(rows, start, end, results, options);
  }
  const t1 = now();
  let items = 0;
  let covered = 0;
  await Promise.all(spans.map(async (span) => {
    try {
      const response = await options.server.infer(span.request);
      store(span, response, results, options.rowViews);
      items += span.items.reduce((a, b) => a + b, 0);
      covered += span.items.length;
    } catch (error) {
      const what = verdict(error, options);
      if (what === 'stop') throw error;
      if (what === 'fail') failRows(span.start, span.start + span.items.length, error, results);
      else if (span.items.length === 1) results[span.start] = { ok: false, error: VireoError.from(error).toJSON() };
      else await halves(rows, span.start, span.start + span.items.length, results, options);
    }
  }));
  if (covered > 0) options.recorder?.batch(covered, items, t1 - t0, now() - t1);
}

/**
 * Isolates the bad rows of a failed batch by halving it: each half runs as a batch of its own and
 * only a failing half is halved again, so one bad row among n costs about 2·log2(n) smaller batches
 * instead of n batches of one, and the good rows still run in batches.
 */
async function halves(rows: InputRows, start: number, end: number, results: (RowResult | undefined)[], options: RunRowsOptions): Promise<void> {
  const middle = start + Math.ceil((end - start) / 2);
  await runBatch(rows, start, middle, results, options);
  await runBatch(rows, middle, end, results, options);
}

/** Rows [start, end) without a result fail with `error` (one that does not concern a single row). */
function failRows(start: number, end: number, error: unknown, results: (RowResult | undefined)[]): void {
  const serialized = VireoError.from(error).toJSON();
  for (let row = start; row < end; row++) results[row] ??= { ok: false, error: serialized };
}

/** The batch's outputs, sliced along dim 0 per row (views, no copy): at once, or when read (`views`). */
function store(span: RequestSpan, response: Awaited<ReturnType<InferFacade['infer']>>, results: (RowResult | undefined)[], views = false): void {
  const total = span.items.reduce((a, b) => a + b, 0);
  if (span.items.length === 1) {
    // Response parameters belong to the request: kept only where the request was one row's own.
    results[span.start] = { ok: true, outputs: response.outputs, model: response.model, version: response.version, ...(response.parameters ? { parameters: response.parameters } : {}) };
    return;
  }
  // Checked once for the request, as sliceOutputs does for each row it slices.
  if (views) checkBatchDimension(response.outputs, total);
  let offset = 0;
  for (let i = 0; i < span.items.length; i++) {
    const items = span.items[i]!;
    results[span.start + i] = views
      ? new RowView(response.outputs, offset, items, total, response.model, response.version)
      : { ok: true, outputs: sliceOutputs(response.outputs, offset, items, total), model: response.model, version: response.version };
    offset += items;
  }
}
