/**
 * Triton's generate extension (extension_generate.md): `POST /v2/models/{m}[/versions/{v}]/generate`
 * answers one JSON object, `/generate_stream` answers Server-Sent Events, one `data:` event per
 * response. The request is a flat JSON object: keys naming model inputs become those tensors
 * (a string, number or boolean, or an array of them), `parameters` and every other key become
 * request parameters. Each response is `{id?, model_name, model_version, <output>: value, ...}`.
 *
 * A stream fails before its first event with an ordinary JSON error and status; after that an
 * error is one last event `{"error": "..."}` (the status, 200, is already sent). A client that
 * disconnects cancels the request: the model is told to stop.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VireoError } from '../../core/errors.js';
import type { CancelSignal, InferRequest, InferResponse, Parameters } from '../../core/inference.js';
import { jsonTextToTensorData } from '../../core/json-tensors.js';
import type { Tensor } from '../../core/tensor.js';
import type { ModelConfig } from '../../repository/model-config.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { decodeExactly } from '../http-common/exact-json.js';
import { clientSignal, sendError, type HttpOptions } from '../http-common/http-server.js';
import { jsonBody } from '../http-common/json-body.js';
import { parseParameters } from './oip-json-codec.js';
import { plainResponse } from './plain-response.js';

/**
 * Bytes of events a client may leave unread before its stream is cut (which cancels the request),
 * so a slow reader cannot make the server buffer a fast model's output without bound.
 */
export const SSE_UNREAD_LIMIT = 16 * 1024 * 1024;

type GenerateRequest = FastifyRequest<{ Params: { model: string; version?: string } }>;

/** A bigint is an integer beyond ±2^53 of the exact second reading (decodeExactly); parseParameters keeps it as its text. */
const isPrimitive = (v: unknown): v is string | number | boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint';

/** One input from a JSON value: the configured dims with its one variable dim (if any) taken from the values. */
function inputTensor(spec: ModelConfig['input'][number], value: unknown, batching: boolean): Tensor {
  const values = (Array.isArray(value) ? value.flat(Infinity) : [value]) as unknown[];
  const fixed = spec.dims.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
  const variable = spec.dims.filter((d) => d < 0).length;
  if (variable > 1) throw new VireoError('VIREO_ERR_INPUT_SHAPE', `input "${spec.name}" has more than one variable dimension; use the infer endpoint`);
  if (variable === 1 && values.length % fixed !== 0) throw new VireoError('VIREO_ERR_INPUT_SHAPE', `input "${spec.name}": ${values.length} values do not fill dims [${spec.dims.join(',')}]`);
  const dims = spec.dims.map((d) => (d < 0 ? values.length / fixed : d));
  const shape = batching ? [1, ...dims] : dims;
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new VireoError('VIREO_ERR_INPUT_SHAPE', `input "${spec.name}": ${values.length} values for dims [${spec.dims.join(',')}], which need ${count}`);
  return { name: spec.name, datatype: spec.data_type, shape, data: jsonTextToTensorData(values, spec.data_type, count, `input "${spec.name}"`) };
}

export function parseGenerateBody(body: unknown, config: ModelConfig, model: string, version: string | undefined): InferRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'the generate request must be a JSON object');
  const inputs: Tensor[] = [];
  let parameters: Parameters | undefined;
  let id: string | undefined;
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const spec = config.input.find((i) => i.name === key);
    if (spec) {
      inputs.push(inputTensor(spec, value, config.max_batch_size > 0));
    } else if (key === 'id') {
      if (typeof value !== 'string') throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', '"id" must be a string');
      id = value;
    } else if (key === 'parameters') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', '"parameters" must be an object');
      for (const [name, p] of Object.entries(value)) {
        if (!isPrimitive(p)) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `parameter "${name}" must be a string, number or boolean`);
        (parameters ??= {})[name] = p;
      }
    } else if (isPrimitive(value)) {
      (parameters ??= {})[key] = value;
    } else {
      throw new VireoError('VIREO_ERR_INPUT_UNKNOWN', `"${key}" is neither an input of model "${model}" (it has ${config.input.map((i) => `"${i.name}"`).join(', ')}) nor a parameter (a string, number or boolean)`);
    }
  }
  // As /infer reads them: an integer JSON.parse rounded is read again exactly (decodeExactly), never passed on rounded.
  return { id, model, version, inputs, parameters: parseParameters(parameters, 'request') };
}

const generateJson = (response: InferResponse) => ({
  ...(response.id !== undefined ? { id: response.id } : {}),
  model_name: response.model,
  model_version: response.version,
  ...plainResponse(response),
});

function both(app: FastifyInstance, suffix: string, handler: (request: GenerateRequest, reply: FastifyReply) => unknown): void {
  app.post(`/v2/models/:model${suffix}`, handler);
  app.post(`/v2/models/:model/versions/:version${suffix}`, handler);
}

function parse(server: InferenceServer, request: GenerateRequest, reply: FastifyReply): InferRequest {
  const { model, version } = request.params;
  const config = server.modelConfig(model, version);
  const parsed = decodeExactly(jsonBody(request.body, request.server.jsonLimits), (body) => parseGenerateBody(body, config, model, version));
  parsed.signal = clientSignal(reply);
  return parsed;
}

/**
 * Triton's answer when /generate meets a model that does not send exactly one response
 * (HTTPAPIServer::GenerateRequestClass::SendChunkResponse); clients look for it in `error`.
 */
const NOT_ONE_RESPONSE = 'generate expects model to produce exactly 1 response, use generate stream for model that generates various number of responses';

/**
 * /generate's request signal: the client's, and aborted by the route itself once a second response
 * shows the answer can only be the error, so a decoupled model stops instead of streaming on for nothing.
 */
function generateSignal(client: CancelSignal): { signal: AbortSignal; stop: () => void; done: () => void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  if (client.aborted) stop();
  else client.addEventListener('abort', stop, { once: true });
  return { signal: controller.signal, stop, done: () => client.removeEventListener('abort', stop) };
}

export function generateRoutes(app: FastifyInstance, { server }: HttpOptions): void {
  /**
   * One JSON object: the model's one response. A decoupled model that sends none, or more than one,
   * is refused with Triton's message (400: the request chose the wrong endpoint; Triton's own status
   * is 200, as its chunked reply has begun by then). The second response ends the request at once;
   * Triton lets the model finish first, which changes nothing in the answer.
   */
  both(app, '/generate', async (request, reply) => {
    let responses = 0;
    let cancel: ReturnType<typeof generateSignal> | undefined;
    const notOne = () => new VireoError('VIREO_ERR_MODEL_DECOUPLED', responses === 0
      ? `${NOT_ONE_RESPONSE} (model "${request.params.model}" ended its stream without a response; /generate_stream answers any number, none included)`
      : `${NOT_ONE_RESPONSE} (model "${request.params.model}" sent more than one; /generate_stream answers each)`);
    try {
      const inferRequest = parse(server, request, reply);
      cancel = generateSignal(inferRequest.signal!);
      inferRequest.signal = cancel.signal;
      let first: InferResponse | undefined;
      await server.inferStream(inferRequest, (response) => {
        if (++responses === 1) first = response;
        else cancel!.stop();
      }).catch((error: unknown) => {
        // After a second response the answer is the refusal, whatever the stopped stream reports.
        if (responses < 2) throw error;
      });
      if (responses !== 1) throw notOne();
      return reply.send(generateJson(first!));
    } catch (error) {
      return sendError(reply, error);
    } finally {
      cancel?.done();
    }
  });

  both(app, '/generate_stream', async (request, reply) => {
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': request.id });
    };
    try {
      const inferRequest = parse(server, request, reply);
      await server.inferStream(inferRequest, (response) => {
        start();
        if (reply.raw.destroyed) return;
        reply.raw.write(`data: ${JSON.stringify(generateJson(response))}\n\n`);
        if (reply.raw.writableLength > SSE_UNREAD_LIMIT) reply.raw.destroy();
      });
      // No response at all (a decoupled model may send none) is a 200 stream with no event, as Triton's.
      start();
      reply.raw.end();
    } catch (error) {
      if (!started) return sendError(reply, error);
      const e = VireoError.from(error);
      if (!reply.raw.destroyed) reply.raw.end(`data: ${JSON.stringify({ error: e.message })}\n\n`);
    }
    return reply;
  });
}
