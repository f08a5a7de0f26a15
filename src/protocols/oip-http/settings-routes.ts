/**
 * Triton's trace extension (`GET|POST /v2[/models/{m}]/trace/setting`, extension_trace.md) and
 * logging extension (`GET|POST /v2/logging`, extension_logging.md). Reading is open; changing
 * settings is a control operation (the access guard, http-common/access-guard.ts: a control
 * token, or loopback peers under a loopback Host; JSON bodies only).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VireoError } from '../../core/errors.js';
import { sendError, type HttpOptions } from '../http-common/http-server.js';
import { jsonBody } from '../http-common/json-body.js';

/** The settings object (the access guard admitted only application/json). */
function jsonObject(request: FastifyRequest): unknown {
  if (request.body === undefined) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'the request has no body (expected a JSON object of settings)');
  return jsonBody(request.body, request.server.jsonLimits);
}

type ModelRequest = FastifyRequest<{ Params: { model?: string } }>;

export function settingsRoutes(app: FastifyInstance, options: HttpOptions): void {
  const { server } = options;
  for (const url of ['/v2/trace/setting', '/v2/models/:model/trace/setting']) {
    app.get(url, async (request: ModelRequest, reply) => {
      try {
        return server.traceSettings(request.params.model);
      } catch (error) {
        return sendError(reply, error);
      }
    });
    app.post(url, { config: { access: 'control' } }, async (request: ModelRequest, reply) => {
      try {
        return server.updateTraceSettings(jsonObject(request), request.params.model);
      } catch (error) {
        return sendError(reply, error);
      }
    });
  }
  app.get('/v2/logging', async () => server.logSettings());
  app.post('/v2/logging', { config: { access: 'control' } }, async (request, reply) => {
    try {
      return server.updateLogSettings(jsonObject(request));
    } catch (error) {
      return sendError(reply, error);
    }
  });
}
