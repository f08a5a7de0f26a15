/**
 * The HTTP listener shared by the REST frontends (OIP, and later V1): one fastify instance, one
 * error handler that answers `{"error": "..."}` with the mapped status, a body limit applied
 * before anything is parsed, and aborting of a request's signal when its client disconnects.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import type { TlsSource } from '../../core/tls-source.js';
import cors from '@fastify/cors';
import multipart from '@fastify/multipart';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { VireoError } from '../../core/errors.js';
import type { CancelSignal } from '../../core/inference.js';
import type { Logger } from '../../logging/logger.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { registerAccessGuard } from './access-guard.js';
import { registerOpenApiDocs } from '../openapi/openapi-docs.js';
import { registerBodyEncoding } from './body-encoding.js';
import { checkJsonLimits, DEFAULT_JSON_LIMITS, type JsonLimits } from './json-limits.js';
import { clientErrorHandler, clientRefusal, countRejection, frameworkErrorHandler, type FrameworkErrorLimits, type RejectionCounter } from './framework-errors.js';
import { clip } from '../../core/bounded-text.js';
import { closeConnectionsWhileDraining } from './drain-close.js';
import { keepJsonText, stringifyJsonExact } from './exact-json.js';
import { HTTP_STATUS } from './http-errors.js';

export interface HttpOptions {
  server: InferenceServer;
  logger: Logger;
  /** Largest accepted request body in bytes (default 64 MiB). */
  bodyLimit?: number;
  /** Time a client has to send its whole request, headers and body (default 60 s; 0 disables). */
  requestTimeoutMs?: number;
  /** Largest request line plus headers in bytes (default 16 KiB, Node's). */
  maxHeaderSize?: number;
  /** JSON nesting depth and value count (default 100 levels, 8 Mi values). */
  jsonLimits?: JsonLimits;
  /** Serve HTTPS with this (reloadable) material; a client CA makes it mutual TLS. */
  tls?: TlsSource;
  /** Origins browsers may call from (CORS); empty or absent: CORS is off, no CORS header is sent. */
  corsOrigins?: readonly string[];
}

export type HttpRoutes = (app: FastifyInstance, options: HttpOptions) => void;

export function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const e = VireoError.from(error);
  const status = HTTP_STATUS[e.status];
  // Server-side failures are logged on the request's logger, which carries its requestId.
  if (status >= 500 && e.status !== 'UNAVAILABLE') reply.log.error({ code: e.code, err: e }, 'request failed');
  // Refused before a model ran: labelled by the error's stable code (a bounded set).
  else if (status < 500) countRejection(reply, e.code.slice('VIREO_ERR_'.length).toLowerCase());
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

  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.#listeners?.indexOf(listener) ?? -1;
    if (at >= 0) this.#listeners!.splice(at, 1);
  }

  #abort(): void {
    this.aborted = true;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    listeners?.forEach((listener) => listener());
  }
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
/** Model names may have 255 characters (checkModelName); longer path parameters are refused with 414. */
export const MAX_PARAM_LENGTH = 1024;

function httpsOptions(tls: TlsSource) {
  const { cert, key, ca } = tls.material;
  // With a client CA, a client without a certificate it signed fails the handshake (mutual TLS).
  return { cert, key, ca, requestCert: tls.mutual, rejectUnauthorized: tls.mutual };
}

/** The limits the server's refusals name (the options' values, or their defaults). */
export function frameworkLimits(options: HttpOptions): FrameworkErrorLimits {
  return {
    bodyLimit: options.bodyLimit ?? 64 * 1024 * 1024,
    maxParamLength: MAX_PARAM_LENGTH,
    headerLimit: options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
  };
}

export function createHttpApp(options: HttpOptions, routes: HttpRoutes[]): FastifyInstance {
  const limits = frameworkLimits(options);
  const { bodyLimit, requestTimeoutMs } = limits;
  const recorder = options.server.protocolRecorder;
  const rejected: RejectionCounter = recorder?.rejectedRequest ? (reason) => recorder.rejectedRequest!('http', reason) : undefined;
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Every request gets an id (the client's x-request-id, or a UUID) on each of its log lines;
    // the per-request "incoming"/"completed" lines appear only at debug verbosity.
    logController: new LogController({ disableRequestLogging: (request) => request.log.level !== 'debug' && request.log.level !== 'trace', requestIdLogLabel: 'requestId' }),
    genReqId: () => randomUUID(),
    bodyLimit,
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A client that trickles its request (slowloris) is answered 408 and closed after this long.
    // Node checks every connectionsCheckingInterval (here a quarter of the bound) and needs the
    // headers timeout no longer than the request timeout, given when the server is created.
    requestTimeout: requestTimeoutMs,
    http: {
      maxHeaderSize: limits.headerLimit,
      ...(requestTimeoutMs > 0 ? {
        requestTimeout: requestTimeoutMs,
        headersTimeout: Math.min(requestTimeoutMs, 60_000),
        connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(requestTimeoutMs / 4))),
      } : {}),
    },
    clientErrorHandler: clientErrorHandler(limits, rejected),
    frameworkErrors: frameworkErrorHandler(limits, rejected),
    ...(options.tls ? { https: httpsOptions(options.tls) } : {}),
  }) as unknown as FastifyInstance;
  if (options.tls) {
    // New connections get reloaded certificates; open ones keep the context they started with.
    const tlsServer = app.server as unknown as TlsServer;
    const unsubscribe = options.tls.subscribe(({ cert, key, ca }) => tlsServer.setSecureContext({ cert, key, ca }));
    app.addHook('onClose', (_instance, done) => {
      unsubscribe();
      done();
    });
  }
  app.decorate('countRejection', rejected);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof VireoError) return sendError(reply, error);
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      // Triton's status (400) and words (http_server.cc), which its clients and tests expect.
      const length = request.headers['content-length'];
      // A compressed body's Content-Length is not its size once inflated (body-encoding.ts stops at the limit).
      const plain = (request.headers['content-encoding'] ?? 'identity') === 'identity';
      const size = plain && length !== undefined && /^\d+$/.test(length) ? `of ${length} bytes` : `of more than ${bodyLimit} bytes`;
      countRejection(reply, 'body_too_large');
      return reply.code(400).send({ error: `request JSON size ${size} exceeds the maximum allowed input size of ${bodyLimit} bytes. Use --http-body-limit to increase the limit.` });
    }
    const refused = clientRefusal(error, limits);
    if (refused) {
      countRejection(reply, refused.reason);
      return reply.code(refused.status).send({ error: refused.message });
    }
    request.log.error({ err: error }, 'unexpected error while handling a request');
    return reply.code(500).send({ error: `internal error: ${clip(error.message, 1000)}` });
  });
  app.setNotFoundHandler((request, reply) => {
    countRejection(reply, 'no_route');
    reply.code(404).send({ error: `no route ${request.method} ${clip(request.url.split('?')[0]!)}` });
  });
  // Clients send inference bodies with any content type (curl's default is form-encoded; the binary
  // extension uses octet-stream): anything not JSON arrives as a Buffer for the route to decode.
  app.removeContentTypeParser(['text/plain']);
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  // A binary-extension body is JSON followed by raw tensors whatever its content type says: it stays
  // a Buffer for the route to split at Inference-Header-Content-Length.
  const jsonLimits = options.jsonLimits ?? DEFAULT_JSON_LIMITS;
  app.decorate('jsonLimits', jsonLimits);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (request.headers['inference-header-content-length'] !== undefined) return done(null, body);
    try {
      checkJsonLimits(body as Buffer, jsonLimits);
    } catch (error) {
      return done(error as Error);
    }
    const text = (body as Buffer).toString('utf8');
    // fastify's parser (prototype-poisoning checks); the text is kept so a body with 64-bit integers
    // beyond ±2^53 can be read again exactly when a decoder needs it (exact-json.ts).
    parseJson(request, text, (error: Error | null, value?: unknown) => {
      if (!error) keepJsonText(value, text);
      done(error, value);
    });
  });
  // BigInt values (exact 64-bit integers in JSON tensors) cannot go through JSON.stringify.
  app.setReplySerializer((payload) => stringifyJsonExact(payload));
  registerBodyEncoding(app, bodyLimit);
  // File uploads to the infer URL; the route reads the parts, sizes limited to the body limit.
  void app.register(multipart, { limits: { fileSize: bodyLimit, parts: 32 } });
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  if (recorder) {
    // Labelled by route template (bounded), never by the raw URL.
    app.addHook('onResponse', (request, reply, done) => {
      recorder.protocolRequest('http', `${request.method} ${request.routeOptions.url ?? 'unmatched'}`, reply.statusCode);
      done();
    });
  }
  if (options.corsOrigins?.length) {
    // Only the listed origins, only the methods and headers the APIs use; preflights are answered
    // by the plugin before any guard (browsers send no credentials on them).
    void app.register(cors, {
      origin: [...options.corsOrigins],
      methods: ['GET', 'POST'],
      allowedHeaders: ['content-type', 'content-encoding', 'authorization', 'inference-header-content-length', 'x-request-id', 'traceparent', 'tracestate'],
      exposedHeaders: ['inference-header-content-length', 'x-request-id'],
      maxAge: 600,
    });
  }
  registerAccessGuard(app, options.server, sendError);
  closeConnectionsWhileDraining(app, () => options.server.draining);
  // /openapi.json and /docs; routes are declared once it has loaded, so that it sees them.
  void app.register(registerOpenApiDocs);
  void app.after(() => {
    for (const register of routes) register(app, options);
  });
  return app;
}
