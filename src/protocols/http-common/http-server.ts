/**
 * The HTTP listener shared by the REST frontends (OIP, and later V1): one fastify instance, one
 * error handler that answers `{"error": "..."}` with the mapped status, a body limit applied
 * before anything is parsed, and aborting of a request's signal when its client disconnects.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import multipart from '@fastify/multipart';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { VireoError } from '../../core/errors.js';
import type { CancelSignal } from '../../core/inference.js';
import type { Logger } from '../../logging/logger.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { registerOpenApiDocs } from '../openapi/openapi-docs.js';
import { registerBodyEncoding } from './body-encoding.js';
import { HTTP_STATUS } from './http-errors.js';

export interface HttpOptions {
  server: InferenceServer;
  logger: Logger;
  /** Largest accepted request body in bytes (default 64 MiB). */
  bodyLimit?: number;
  /** Accept settings changes (logging, trace) from non-loopback clients. */
  allowRemoteControl?: boolean;
}

export type HttpRoutes = (app: FastifyInstance, options: HttpOptions) => void;

export function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const e = VireoError.from(error);
  const status = HTTP_STATUS[e.status];
  // Server-side failures are logged on the request's logger, which carries its requestId.
  if (status >= 500 && e.status !== 'UNAVAILABLE') reply.log.error({ code: e.code, err: e }, 'request failed');
  return reply.code(status).send({ error: e.message });
}

/** A signal that aborts when the client goes away before the response is sent. */
export function clientSignal(reply: FastifyReply): CancelSignal {
  return new ConnectionSignal(reply.raw);
}

/** Aborted when the connection drops before the response has ended. */
class ConnectionSignal implements CancelSignal {
  aborted = false;
  #listeners: (() => void)[] | undefined;

  constructor(response: ServerResponse) {
    // The client may have gone while the body was still being read: 'close' has then fired already.
    if (response.destroyed || !response.socket || response.socket.destroyed) {
      this.aborted = true;
      return;
    }
    // The response's 'close' fires when the connection drops or after the response ends; the
    // request's 'close' fires as soon as the body is read, so it cannot tell a disconnect.
    response.once('close', () => {
      if (!response.writableEnded) this.#abort();
    });
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.aborted) (this.#listeners ??= []).push(listener);
  }

  #abort(): void {
    this.aborted = true;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    listeners?.forEach((listener) => listener());
  }
}

export function createHttpApp(options: HttpOptions, routes: HttpRoutes[]): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? 64 * 1024 * 1024;
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Every request gets an id (the client's x-request-id, or a UUID) on each of its log lines;
    // the per-request "incoming"/"completed" lines appear only at debug verbosity.
    logController: new LogController({ disableRequestLogging: (request) => request.log.level !== 'debug' && request.log.level !== 'trace', requestIdLogLabel: 'requestId' }),
    genReqId: () => randomUUID(),
    bodyLimit,
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof VireoError) return sendError(reply, error);
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'unexpected error while handling a request');
    const message = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
      ? `request body is larger than the limit of ${bodyLimit} bytes`
      : error.code?.startsWith('Z_') // zlib, inflating a Content-Encoding body (body-encoding.ts)
        ? `the request body could not be decompressed: ${error.message}`
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
  // A binary-extension body is JSON followed by raw tensors whatever its content type says: it stays
  // a Buffer for the route to split at Inference-Header-Content-Length.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (request.headers['inference-header-content-length'] !== undefined) return done(null, body);
    parseJson(request, (body as Buffer).toString('utf8'), done);
  });
  registerBodyEncoding(app, bodyLimit);
  // File uploads to the infer URL; the route reads the parts, sizes limited to the body limit.
  void app.register(multipart, { limits: { fileSize: bodyLimit, parts: 32 } });
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  const recorder = options.server.protocolRecorder;
  if (recorder) {
    // Labelled by route template (bounded), never by the raw URL.
    app.addHook('onResponse', (request, reply, done) => {
      recorder.protocolRequest('http', `${request.method} ${request.routeOptions.url ?? 'unmatched'}`, reply.statusCode);
      done();
    });
  }
  // /openapi.json and /docs; routes are declared once it has loaded, so that it sees them.
  void app.register(registerOpenApiDocs);
  void app.after(() => {
    for (const register of routes) register(app, options);
  });
  return app;
}
