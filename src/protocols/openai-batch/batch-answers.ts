/**
 * The OpenAI side of a batch's rows. The batch engine reads each input line (jsonl-rows.ts) with
 * the REST frontend's parsers, so a `body` means what it means to `POST <endpoint>`: an OIP request,
 * a dataframe as JSON columns (records, a JSON array, are refused while the file is validated: OpenAI's
 * `body` is an object), or a typed payload. Each result becomes one line of
 * OpenAI's batch output format, its body the REST route's own answer:
 *   output file: `{"id", "custom_id", "response": {"status_code": 200, "request_id", "body"}, "error": null}`;
 *   error file:  the same with the error's HTTP status and `{"error": "<message>"}` as body;
 *   expired:     `{"id", "custom_id", "response": null, "error": {"code": "batch_expired", "message"}}`.
 */
import { inflightBatches, jsonlModel } from '../../batch/batch-model.js';
import type { JsonlModel, ParsedLine } from '../../batch/jsonl-rows.js';
import type { RowResult } from '../../batch/run-rows.js';
import type { TimeSlicer } from '../../batch/time-slicer.js';
import { ERROR_CODES, VireoError, type SerializedError } from '../../core/errors.js';
import { stringifyJsonExact } from '../../core/exact-json-text.js';
import type { ModelConfig } from '../../repository/model-config.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { HTTP_STATUS } from '../http-common/http-errors.js';
import { encodeInferResponse } from '../oip-http/oip-binary-codec.js';
import { parseInferBody } from '../oip-http/oip-json-codec.js';
import { plainResponse } from '../oip-http/plain-response.js';
import type { BatchEndpoint } from './batch-input.js';

/** What the engine needs to read the lines of a batch for its endpoint's model. */
export interface BatchModel {
  jsonl: JsonlModel;
  /** Rows per batch: the model's max_batch_size (1 without batching). */
  batchSize: number;
  /** Batches in flight: one per instance, and one more being built. */
  maxInflight: number;
  /** The loaded version's config, or why there is none (read by the job's reading thread). */
  config?: ModelConfig;
  unavailable?: SerializedError;
}

/** The model as loaded now; a model not (yet) loaded reads as unbatched, and its requests answer its error. */
export function batchModel(server: InferenceServer, endpoint: BatchEndpoint): BatchModel {
  let config: ModelConfig | undefined;
  let unavailable: SerializedError | undefined;
  try {
    config = server.modelConfig(endpoint.model, endpoint.version);
  } catch (error) {
    // not loaded: every request will answer the model's error (after the transient retries)
    unavailable = VireoError.from(error).toJSON();
  }
  return {
    config, unavailable,
    // JSONL bodies with `inputs` are read exactly as POST /v2/models/{m}/infer reads them.
    jsonl: jsonlModel(server, endpoint.model, endpoint.version, config, (body, model, version) => parseInferBody(body, model, version)),
    batchSize: Math.max(1, config?.max_batch_size ?? 1),
    maxInflight: config ? inflightBatches(config) : 2,
  };
}

/** What a JSON-lines output cannot carry is refused per line, before it runs. */
export function refuseBinary(line: ParsedLine): ParsedLine {
  const request = line.request;
  if (!request) return line;
  const binary = request.outputs?.find((o) => o.parameters?.binary_data === true);
  const message = binary
    ? `output "${binary.name}": binary_data cannot be carried in a batch output file (JSON lines)`
    : request.parameters?.binary_data_output === true ? 'binary_data_output cannot be carried in a batch output file (JSON lines)' : undefined;
  return message ? { id: line.id, line: line.line, error: new VireoError('VIREO_ERR_REQUEST_MALFORMED', message) } : line;
}

const requestIds = (batchId: string, line: number) => ({ id: `batch_req_${batchId.slice(6)}_${line}`, requestId: `${batchId}-${line}` });

/** The REST route's answer to one row: OIP JSON for an OIP request, plain JSON for a dataframe or payload. */
function restBody(line: ParsedLine, result: Extract<RowResult, { ok: true }>): unknown {
  const response = { model: result.model, version: result.version, id: line.request?.id, outputs: result.outputs, parameters: result.parameters };
  return line.kind === 'oip' ? encodeInferResponse(response, line.request!).header : plainResponse(response);
}

export interface AnsweredPart {
  output: Uint8Array;
  errors: Uint8Array;
  failed: number;
}

const encoder = new TextEncoder();

/** A part's lines and their results → its output and error lines, in input order (pausing for I/O between lines). */
export async function answerPart(batchId: string, lines: readonly ParsedLine[], results: readonly RowResult[], slicer?: TimeSlicer): Promise<AnsweredPart> {
  let output = '';
  let errors = '';
  let failed = 0;
  for (let i = 0; i < results.length; i++) {
    const pause = slicer?.pause();
    if (pause) await pause;
    const result = results[i]!;
    const line = lines[i]!;
    const { id, requestId } = requestIds(batchId, line.line);
    if (result.ok) {
      // Exact: an INT64 answer beyond ±2^53 is a BigInt, which JSON.stringify refuses.
      output += `${stringifyJsonExact({ id, custom_id: line.id, response: { status_code: 200, request_id: requestId, body: restBody(line, result) }, error: null })}\n`;
      continue;
    }
    failed++;
    const status = HTTP_STATUS[ERROR_CODES[result.error.code] ?? 'INTERNAL'];
    errors += `${JSON.stringify({ id, custom_id: line.id, response: { status_code: status, request_id: requestId, body: { error: result.error.message } }, error: null })}\n`;
  }
  return { output: encoder.encode(output), errors: encoder.encode(errors), failed };
}

/** OpenAI lists the requests a job could not run before it expired in the error file. */
export function expiredLine(batchId: string, line: ParsedLine): string {
  return JSON.stringify({
    id: requestIds(batchId, line.line).id, custom_id: line.id, response: null,
    error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
  });
}
