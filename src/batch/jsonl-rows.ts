/**
 * JSONL request lines → rows for `runRows`. A line is either OpenAI's batch shape,
 * `{"custom_id": "...", "method": "POST", "url": "/v2/models/<m>/infer", "body": {...}}`, or a plain
 * OIP request (`{"inputs": [...]}`, its id being its line number, 1-based). The body is:
 * - an OIP inference request (`inputs`, `outputs`, `parameters`), parsed as the REST frontend parses it;
 * - JSON records `[{col: v}]` or columns `{col: [v]}`, mapped as the REST dataframe path maps them;
 * - a typed payload `{"<input>": "text" | {"b64": "<base64>"}}` for BYTES / image / text inputs, one
 *   element each, as an upload fills them (`{"b64": …}` is TF Serving's spelling for binary values).
 *
 * Consecutive lines that agree on input names, datatypes, per-item shapes, requested outputs and
 * parameters are concatenated into one request (one batch), up to the batch size in items.
 * Used by `vireo batch` and by the server's `/v1/batches` alike. The OIP JSON parser is the REST
 * frontend's, handed in by the caller (`JsonlModel.oipRequest`): the engine imports no wire code.
 */
import { jsonTable, type Table } from '../codecs/dataframe-codec.js';
import { VireoError } from '../core/errors.js';
import { parseJsonExact } from '../core/exact-json-text.js';
import type { InferRequest } from '../core/inference.js';
import { InexactJsonNumber } from '../core/json-tensors.js';
import type { Tensor } from '../core/tensor.js';
import { concatInputs } from '../scheduler/batch-tensors.js';
import type { InputRows, RequestSpan } from './run-rows.js';

/** What line parsing needs to know of the model. */
export interface JsonlModel {
  model: string;
  version?: string;
  /** max_batch_size > 0: requests carry a batch dimension and can be concatenated. */
  batched: boolean;
  /**
   * A sequence-batching model: every line stays a request of its own. Joined, two steps of one sequence
   * were one request of two steps, which the sequence batcher refuses; its halves then ran after the
   * batch's later lines, so a sequence's end arrived before its middle steps.
   */
  sequence?: boolean;
  /** Inputs a typed payload may fill with bytes or text. */
  bytesInputs: readonly string[];
  /** The REST dataframe mapping (InferenceServer.dataframeRequest). */
  dataframeRequest(table: Table): InferRequest;
  /** The REST frontend's parser of an OIP JSON request body (`inputs`, `outputs`, `parameters`). */
  oipRequest(body: Record<string, unknown>): InferRequest;
}

/** Which shape a line's body had, so a frontend can answer in the shape its REST route would. */
export type BodyKind = 'oip' | 'dataframe' | 'payload';

export interface ParsedLine {
  id: string;
  /** 1-based line number in the file. */
  line: number;
  kind?: BodyKind;
  request?: InferRequest;
  error?: VireoError;
}

const bad = (message: string): never => {
  throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', message);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const INFER_URL = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/infer$/;

/** One line: its id, and its request or the reason it has none. `lineNumber` is 1-based. */
export function parseJsonlLine(line: string, lineNumber: number, model: JsonlModel): ParsedLine {
  let id = String(lineNumber);
  try {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      return bad(`line ${lineNumber} is not valid JSON: ${(error as Error).message}`);
    }
    if (!isObject(value)) return bad(`line ${lineNumber} is not a JSON object`);
    let body: unknown = value;
    if ('custom_id' in value || 'body' in value) {
      if (typeof value.custom_id !== 'string' || value.custom_id === '') return bad(`line ${lineNumber}: "custom_id" must be a non-empty string`);
      id = value.custom_id;
      if (value.method !== undefined && value.method !== 'POST') bad(`"method" must be POST, not ${JSON.stringify(value.method)}`);
      if (value.url !== undefined) checkUrl(value.url, model);
      body = value.body;
    }
    try {
      return { id, line: lineNumber, ...requestOf(body, model) };
    } catch (error) {
      // A 64-bit integer JSON.parse rounded: read the line again exactly, as the REST route reads a body.
      if (!(error instanceof InexactJsonNumber)) throw error;
      const exact = parseJsonExact(line) as Record<string, unknown>;
      return { id, line: lineNumber, ...requestOf(body === value ? exact : exact.body, model) };
    }
  } catch (error) {
    return { id, line: lineNumber, error: VireoError.from(error) };
  }
}

function checkUrl(url: unknown, model: JsonlModel): void {
  const match = typeof url === 'string' ? INFER_URL.exec(url) : null;
  if (!match) return bad(`"url" must be /v2/models/<model>[/versions/<version>]/infer, not ${JSON.stringify(url)?.slice(0, 80)}`);
  if (decodeURIComponent(match[1]!) !== model.model) bad(`"url" names model "${match[1]}", but this job runs "${model.model}"`);
  if (match[2] !== undefined && model.version !== undefined && decodeURIComponent(match[2]) !== model.version) bad(`"url" names version ${match[2]}, but this job runs version ${model.version}`);
}

function requestOf(body: unknown, model: JsonlModel): { kind: BodyKind; request: InferRequest } {
  if (isObject(body) && 'inputs' in body) return { kind: 'oip', request: model.oipRequest(body) };
  const table = jsonTable(body);
  if (table) return { kind: 'dataframe', request: model.dataframeRequest(table) };
  if (!isObject(body)) return bad('"body" must be an OIP request, JSON records or columns, or an object of input values');
  const inputs: Tensor[] = Object.entries(body).map(([name, value]) => {
    if (!model.bytesInputs.includes(name)) bad(`"${name}" is not a BYTES, image or text input of model "${model.model}" (it has ${model.bytesInputs.map((n) => `"${n}"`).join(', ') || 'none'})`);
    let bytes: Uint8Array;
    if (typeof value === 'string') bytes = new TextEncoder().encode(value);
    else if (isObject(value) && typeof value.b64 === 'string' && Object.keys(value).length === 1) bytes = Buffer.from(value.b64, 'base64');
    else return bad(`input "${name}": expected a string or {"b64": "<base64>"}`);
    return { name, datatype: 'BYTES', shape: model.batched ? [1, 1] : [1], data: [bytes] };
  });
  if (inputs.length === 0) bad('"body" has no inputs');
  return { kind: 'payload', request: { model: model.model, version: model.version, inputs } };
}

/** Items (batch dimension) of a parsed request; 1 for a model without batching. */
function itemsOf(request: InferRequest, batched: boolean): number {
  return batched ? (request.inputs[0]?.shape[0] ?? 1) : 1;
}

/** What must agree for two requests to share one execution. */
function batchKey(request: InferRequest): string {
  return JSON.stringify([
    request.inputs.map((t) => [t.name, t.datatype, t.shape.slice(1), Array.isArray(t.data)]),
    request.outputs ?? null,
    request.parameters ?? null,
  ]);
}

/** Parsed lines as rows for runRows: compatible neighbours share a request, up to `batchSize` items. */
export function jsonlRows(lines: readonly ParsedLine[], model: JsonlModel, batchSize: number): InputRows {
  const failed = new Map<number, VireoError>();
  lines.forEach((line, i) => {
    if (line.error) failed.set(i, line.error);
  });
  const keys = lines.map((line) => (line.request && model.batched && !model.sequence ? batchKey(line.request) : undefined));
  return {
    ids: lines.map((l) => l.id),
    failed,
    requests(start: number, end: number): RequestSpan[] {
      const spans: RequestSpan[] = [];
      let group: number[] = [];
      let groupItems = 0;
      const flush = () => {
        if (group.length > 0) spans.push(spanOf(group, lines, model));
        group = [];
        groupItems = 0;
      };
      for (let row = start; row < end; row++) {
        const request = lines[row]!.request;
        if (!request) continue;
        const items = itemsOf(request, model.batched);
        const joins = group.length > 0 && keys[row] !== undefined && keys[row] === keys[group[0]!] && group.at(-1) === row - 1 && groupItems + items <= batchSize;
        if (!joins) flush();
        group.push(row);
        groupItems += items;
      }
      flush();
      return spans;
    },
  };
}

function spanOf(rows: number[], lines: readonly ParsedLine[], model: JsonlModel): RequestSpan {
  const requests = rows.map((r) => lines[r]!.request!);
  const items = requests.map((r) => itemsOf(r, model.batched));
  if (requests.length === 1) return { start: rows[0]!, items, request: requests[0]! };
  const inputs = concatInputs(requests.map((r, i) => ({ inputs: r.inputs, items: items[i]! })), true);
  const first = requests[0]!;
  return { start: rows[0]!, items, request: { ...first, id: undefined, inputs } };
}
