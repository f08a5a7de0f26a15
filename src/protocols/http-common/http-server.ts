/**
 * The HTTP listener shared by the REST frontends (OIP, and later V1): one fastify instance, one
 * error handler that answers `{"error": "..."}` with the mapped status, a body limit applied
 * before anything is parsed, and aborting of a request's signal when its client disconnects.
 */
import multipart from '@fastify/multipart';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { VireoError } from '../../core/errors.js';
import type { Logger } from '../../logging/logger.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { HTTP_STATUS } from './http-errors.js';

export interface HttpOptions {
  server: InferenceServer;
  logger: Logger;
  /** Largest accepted request body in bytes (default 64 MiB). */
  bodyLimit?: number;
}

export type HttpRoutes = (app: FastifyInstance, options: HttpOptions) => void;

export function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const e = VireoError.from(error);
  return reply.code(HTTP_STATUS[e.status]).send({ error: e.message });
}

/** An AbortSignal that fires when the client goes away before the response is sent. */
export function clientSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // The response's 'close' fires when the connection drops or after the response ends; the
  // request's 'close' fires as soon as the body is read, so it cannot tell a disconnect.
  reply.raw.once('close', () => {
    if (!reply.raw.writableEnded) controller.abort();
  });
  return controller.signal;
}

export function createHttpApp(options: HttpOptions, routes: HttpRoutes[]): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 64 * 1024 * 1024,
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
  });
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error instanceof VireoError) return sendError(reply, error);
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) options.logger.error({ err: error }, 'unexpected error while handling a request');
    const message = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
      ? `request body is larger than the limit of ${options.bodyLimit ?? 64 * 1024 * 1024} bytes`
      : error.message;
    return reply.code(status).send({ error: status === 500 ? `internal error: ${error.message}` : message });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
  // Clients send inference bodies with any content type (curl's default is form-encoded; the binary
  // extension uses octet-stream): anything not JSON arrives as a Buffer for the route to decode.
  app.removeContentTypeParser(['text/plain']);
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  // File uploads to the infer URL; the route reads the parts, sizes limited to the body limit.
  void app.register(multipart, { limits: { fileSize: options.bodyLimit ?? 64 * 1024 * 1024, parts: 32 } });
  for (const register of routes) register(app, options);
  return app;
}
