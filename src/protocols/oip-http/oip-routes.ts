/**
 * OIP REST (open_inference_rest.yaml) plus Triton's model-configuration and statistics
 * extensions, and the binary tensor data extension on infer (oip-binary-codec.ts). Every path
 * exists unversioned and with `/versions/{version}`.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VireoError } from '../../core/errors.js';
import { clientSignal, sendError, type HttpOptions } from '../http-common/http-server.js';
import { startHttpTrace } from '../http-common/http-trace.js';
import { decodeExactly, stringifyJsonExact } from '../http-common/exact-json.js';
import { jsonBody } from '../http-common/json-body.js';
import type { InferRequest } from '../../core/inference.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { binaryTable, jsonBodyTable } from './dataframe-body.js';
import { encodeInferResponse, inferenceHeaderLength, parseBinaryInferBody, parseRawInferBody } from './oip-binary-codec.js';
import { parseInferBody, type SharedMemoryInput } from './oip-json-codec.js';
import { jsonAnswer } from './json-answer.js';
import { plainResponse } from './plain-response.js';
import { isUpload, parseUpload } from './upload-request.js';

/** What fastify sends a serialized JSON reply as. */
const JSON_TYPE = 'application/json; charset=utf-8';

/** From this size on a binary answer is written part by part (see the infer route). */
const STREAMED_ANSWER_BYTES = 256 * 1024;

type ModelParams = { model: string; version?: string };
type ModelRequest = FastifyRequest<{ Params: ModelParams }>;

/** Registers `path` and `path` with `/versions/:version` inserted after the model name. */
function both(app: FastifyInstance, method: 'GET' | 'POST', suffix: string, handler: (request: ModelRequest, reply: FastifyReply) => unknown): void {
  app.route({ method, url: `/v2/models/:model${suffix}`, handler });
  app.route({ method, url: `/v2/models/:model/versions/:version${suffix}`, handler });
}

export function oipRoutes(app: FastifyInstance, { server, bodyLimit }: HttpOptions): void {
  app.get('/v2', async () => server.serverMetadata());
  app.get('/v2/', async () => server.serverMetadata());
  app.get('/v2/health/live', { config: { access: 'public' } }, async (_request, reply) => reply.code(server.isLive() ? 200 : 503).send({ live: server.isLive() }));
  app.get('/v2/health/ready', { config: { access: 'public' } }, async (_request, reply) => {
    const ready = server.isReady();
    return reply.code(ready ? 200 : 503).send({ ready });
  });

  both(app, 'GET', '', async (request, reply) => {
    try {
      return server.modelMetadata(request.params.model, request.params.version);
    } catch (error) {
      return sendError(reply, error);
    }
  });

  both(app, 'GET', '/ready', async (request, reply) => {
    try {
      const ready = server.modelReady(request.params.model, request.params.version);
      return reply.code(ready ? 200 : 503).send({ name: request.params.model, ready });
    } catch (error) {
      return sendError(reply, error);
    }
  });

  both(app, 'GET', '/config', async (request, reply) => {
    try {
      return server.tritonModelConfig(request.params.model, request.params.version);
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.get('/v2/models/stats', async () => ({ model_stats: server.statistics() }));
  both(app, 'GET', '/stats', async (request, reply) => {
    try {
      return { model_stats: server.statistics(request.params.model, request.params.version) };
    } catch (error) {
      return sendError(reply, error);
    }
  });

  const tracer = server.tracer;
  // Bound once: the facade reads shared-memory inputs (and refuses them when the extension is off).
  const sharedMemoryInput: SharedMemoryInput = (ref, datatype, shape, count, what) => server.sharedMemoryInput(ref, datatype, shape, count, what);
  both(app, 'POST', '/infer', async (request, reply) => {
    const trace = startHttpTrace(tracer, request, request.params.model, request.params.version);
    try {
      server.requireModel(request.params.model, request.params.version);
      if (isUpload(request)) {
        const { model, version } = request.params;
        const upload = await parseUpload(request, server.modelConfig(model, version), model, version, bodyLimit ?? 64 * 1024 * 1024);
        upload.signal = clientSignal(reply);
        return reply.send(plainResponse(await server.infer(upload)));
      }
      if (request.body === undefined) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'the request has no body (expected a JSON inference request)');
      // Dataframes: CSV or Arrow by content type; JSON records or columns (never an OIP request).
      let table = await binaryTable(request);
      let parsed: unknown;
      if (!table && request.headers['inference-header-content-length'] === undefined) {
        parsed = jsonBody(request.body, request.server.jsonLimits);
        table = jsonBodyTable(parsed);
      }
      if (table) {
        const dataframe = server.dataframeRequest(request.params.model, request.params.version, table);
        dataframe.signal = clientSignal(reply);
        return reply.send(plainResponse(await server.infer(dataframe)));
      }
      const inferRequest = decodeInferRequest(server, request, sharedMemoryInput, parsed);
      inferRequest.signal = clientSignal(reply);
      inferRequest.trace = trace;
      const response = await server.infer(inferRequest);
      trace?.encoding();
      const { header, binary } = encodeInferResponse(response, inferRequest, true);
      if (binary.length === 0) {
        // Large numeric outputs are written straight into one Buffer (json-answer.ts), the same bytes
        // and content type the reply serializer gives; it is compressed like any other answer.
        const written = jsonAnswer(header);
        if (written) reply.type(JSON_TYPE).send(written);
        else reply.send(header);
      } else {
        // binary_data extension: JSON header, then each binary output in order (one copy into the body).
        // Trailing spaces pad the header to 8 bytes so clients can view the outputs without realigning.
        const text = stringifyJsonExact(header);
        const json = Buffer.from(text.padEnd(text.length + ((8 - (Buffer.byteLength(text) % 8)) % 8)));
        const bytes = binary.reduce((sum, b) => sum + b.byteLength, json.length);
        reply
          .header('content-type', 'application/octet-stream')
          .header('inference-header-content-length', json.length);
        // A large answer goes out as its parts, not joined: joining copies megabytes per response
        // and the garbage it leaves drives full collections on the HTTP thread.
        if (bytes >= STREAMED_ANSWER_BYTES) reply.header('content-length', bytes).send(Readable.from([json, ...binary], { objectMode: false }));
        else reply.send(Buffer.concat([json, ...binary]));
      }
      trace?.end();
      return reply;
    } catch (error) {
      trace?.end(error);
      return sendError(reply, error);
    }
  });
}

/**
 * JSON, binary-extension or raw binary request, by the Inference-Header-Content-Length header.
 * `json` is the body already parsed as JSON, when it was.
 */
function decodeInferRequest(server: InferenceServer, request: ModelRequest, sharedMemoryInput: SharedMemoryInput, json?: unknown): InferRequest {
  const { model, version } = request.params;
  const headerLength = inferenceHeaderLength(request.headers['inference-header-content-length']);
  if (headerLength === undefined) return decodeExactly(json ?? jsonBody(request.body, request.server.jsonLimits), (body) => parseInferBody(body, model, version, undefined, sharedMemoryInput));
  const body = Buffer.isBuffer(request.body) ? request.body : undefined;
  if (!body) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'Inference-Header-Content-Length given but the body is not binary');
  if (headerLength === 0) return parseRawInferBody(body, server.modelConfig(model, version), model, version);
  return parseBinaryInferBody(body, headerLength, model, version, sharedMemoryInput, request.server.jsonLimits);
}
