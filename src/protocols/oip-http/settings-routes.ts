/**
 * Triton's trace extension (`GET|POST /v2[/models/{m}]/trace/setting`, extension_trace.md) and
 * logging extension (`GET|POST /v2/logging`, extension_logging.md). Reading is open; changing
 * settings is a control operation, accepted only from loopback unless the server was started with
 * remote control allowed (HttpOptions.allowRemoteControl).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VireoError } from '../../core/errors.js';
import { isLoopbackAddress } from '../../server/control-access.js';
import { sendError, type HttpOptions } from '../http-common/http-server.js';
import { jsonBody } from '../http-common/json-body.js';

function assertControl(request: FastifyRequest, options: HttpOptions): void {
  if (options.allowRemoteControl) return;
  const address = request.socket.remoteAddress ?? '';
  if (!isLoopbackAddress(address)) {
    throw new VireoError('VIREO_ERR_PERMISSION_DENIED', `changing settings is allowed only from loopback (this request came from ${address}); start Vireo with --allow-remote-control to allow it`);
  }
}

/** The settings object; any content type is read as JSON (curl -d sends form-encoded). */
function jsonObject(body: unknown): unknown {
  if (body === undefined) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'the request has no body (expected a JSON object of settings)');
  return jsonBody(body);
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
    app.post(url, async (request: ModelRequest, reply) => {
      try {
        assertControl(request, options);
        return server.updateTraceSettings(jsonObject(request.body), request.params.model);
      } catch (error) {
        return sendError(reply, error);
      }
    });
  }
  app.get('/v2/logging', async () => server.logSettings());
  app.post('/v2/logging', async (request, reply) => {
    try {
      assertControl(request, options);
      return server.updateLogSettings(jsonObject(request.body));
    } catch (error) {
      return sendError(reply, error);
    }
  });
}
