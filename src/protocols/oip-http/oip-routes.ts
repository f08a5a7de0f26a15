/**
 * OIP REST (open_inference_rest.yaml) plus Triton's model-configuration and statistics
 * extensions. Every path exists unversioned and with `/versions/{version}`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VireoError } from '../../core/errors.js';
import { clientSignal, sendError, type HttpOptions } from '../http-common/http-server.js';
import { inferResponseToJson, parseInferBody } from './oip-json-codec.js';

/** A body that arrived under another content type is parsed as JSON here. */
function jsonBody(body: unknown): unknown {
  if (!Buffer.isBuffer(body)) return body;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `the request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** A header that occurs once, as text; repeated trace headers are invalid (W3C trace-context §3.2). */
function headerText(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

type ModelParams = { model: string; version?: string };
type ModelRequest = FastifyRequest<{ Params: ModelParams }>;

/** Registers `path` and `path` with `/versions/:version` inserted after the model name. */
function both(app: FastifyInstance, method: 'GET' | 'POST', suffix: string, handler: (request: ModelRequest, reply: FastifyReply) => unknown): void {
  app.route({ method, url: `/v2/models/:model${suffix}`, handler });
  app.route({ method, url: `/v2/models/:model/versions/:version${suffix}`, handler });
}

export function oipRoutes(app: FastifyInstance, { server }: HttpOptions): void {
  app.get('/v2', async () => server.serverMetadata());
  app.get('/v2/health/live', async (_request, reply) => reply.code(server.isLive() ? 200 : 503).send({ live: server.isLive() }));
  app.get('/v2/health/ready', async (_request, reply) => {
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
      return server.modelConfig(request.params.model, request.params.version);
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

  // Decided once: without a tracer the handler never looks at trace headers.
  const tracer = server.tracer;
  both(app, 'POST', '/infer', async (request, reply) => {
    const trace = tracer === null || !tracer.active ? undefined : tracer.start(request.params.model, request.params.version, {
      traceparent: headerText(request.headers.traceparent), tracestate: headerText(request.headers.tracestate),
    }, request.id);
    try {
      if (request.body === undefined) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'the request has no body (expected a JSON inference request)');
      const inferRequest = parseInferBody(jsonBody(request.body), request.params.model, request.params.version);
      inferRequest.signal = clientSignal(reply);
      inferRequest.trace = trace;
      const response = await server.infer(inferRequest);
      if (trace === undefined) return reply.send(inferResponseToJson(response));
      trace.encoding();
      reply.send(inferResponseToJson(response));
      trace.end();
      return reply;
    } catch (error) {
      trace?.end(error);
      return sendError(reply, error);
    }
  });
}
