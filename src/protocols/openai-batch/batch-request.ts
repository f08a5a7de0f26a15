/**
 * One line of a batch: its body becomes an inference request exactly as the REST infer route
 * reads it (an OIP JSON request, or a dataframe as JSON columns), runs through the facade as
 * background work, and its answer becomes one line of OpenAI's batch output format:
 * `{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error": null}`.
 */
import { VireoError } from '../../core/errors.js';
import type { InferRequest } from '../../core/inference.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { HTTP_STATUS } from '../http-common/http-errors.js';
import { jsonBodyTable } from '../oip-http/dataframe-body.js';
import { encodeInferResponse } from '../oip-http/oip-binary-codec.js';
import { parseInferBody } from '../oip-http/oip-json-codec.js';
import { plainResponse } from '../oip-http/plain-response.js';
import type { BatchEndpoint, InputLine } from './batch-input.js';

export interface RequestAnswer {
  ok: boolean;
  /** The output line (JSON text) for the output file (ok) or the error file. */
  line: string;
  /** The server began to stop while the request waited: the answer must not be committed. */
  interrupted?: boolean;
}

/** Refusals that say "not now" rather than "never": the request is tried again after a pause. */
const TRANSIENT = new Set(['VIREO_ERR_QUEUE_FULL', 'VIREO_ERR_MODEL_NOT_READY', 'VIREO_ERR_MEMORY_BUDGET_EXHAUSTED']);
/** A model that is reloading is back within this long, or the row fails with the model's error. */
const TRANSIENT_RETRY_MS = 30_000;

function decode(server: InferenceServer, endpoint: BatchEndpoint, body: Record<string, unknown>): { request: InferRequest; plain: boolean } {
  const table = body.inputs === undefined ? jsonBodyTable(body) : undefined;
  if (table) return { request: server.dataframeRequest(endpoint.model, endpoint.version, table), plain: true };
  const request = parseInferBody(body, endpoint.model, endpoint.version);
  for (const output of request.outputs ?? []) {
    if (output.parameters?.binary_data === true) {
      throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `output "${output.name}": binary_data cannot be carried in a batch output file (JSON lines)`);
    }
  }
  if (request.parameters?.binary_data_output === true) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'binary_data_output cannot be carried in a batch output file (JSON lines)');
  }
  return { request, plain: false };
}

export async function answerLine(
  server: InferenceServer,
  batchId: string,
  endpoint: BatchEndpoint,
  line: InputLine,
  stopping: () => boolean,
): Promise<RequestAnswer> {
  const id = `batch_req_${batchId.slice(6)}_${line.line}`;
  const requestId = `${batchId}-${line.line}`;
  const write = (ok: boolean, statusCode: number, body: unknown): RequestAnswer => ({
    ok,
    line: JSON.stringify({ id, custom_id: line.customId, response: { status_code: statusCode, request_id: requestId, body }, error: null }),
  });
  const giveUpAt = Date.now() + TRANSIENT_RETRY_MS;
  for (let pause = 50; ; pause = Math.min(pause * 2, 2000)) {
    try {
      const { request, plain } = decode(server, endpoint, line.body);
      request.background = true;
      const response = await server.infer(request);
      return write(true, 200, plain ? plainResponse(response) : encodeInferResponse(response, request).header);
    } catch (thrown) {
      const error = VireoError.from(thrown);
      if (error.code === 'VIREO_ERR_SERVER_SHUTTING_DOWN' || stopping()) return { ok: false, line: '', interrupted: true };
      if (TRANSIENT.has(error.code) && Date.now() + pause < giveUpAt) {
        await new Promise((resolve) => setTimeout(resolve, pause));
        continue;
      }
      return write(false, HTTP_STATUS[error.status], { error: error.message });
    }
  }
}
