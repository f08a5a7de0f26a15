/**
 * The answers to requests refused before any route runs, in the one REST error form
 * `{"error": "…"}`: Node's HTTP parser errors (malformed requests, headers over the limit, a body
 * that does not arrive in time), fastify's router errors (a malformed URL, a path parameter over
 * maxParamLength) and fastify's own 4xx errors (body too large, bad JSON, unsupported media type).
 * Nothing here echoes the request: the URL and headers may be megabytes long.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { clip } from '../../core/bounded-text.js';

/** Counts a refusal by reason (metrics); absent: nothing is counted. */
export type RejectionCounter = ((reason: string) => void) | undefined;

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts a request refused before it reached a model (http-server.ts decorates it). */
    countRejection: RejectionCounter;
  }
}

/** Counts a refusal answered through `reply` (routes, hooks). */
export function countRejection(reply: FastifyReply, reason: string): void {
  reply.server.countRejection?.(reason);
}

export interface FrameworkErrorLimits {
  bodyLimit: number;
  maxParamLength: number;
  headerLimit: number;
  requestTimeoutMs: number;
}

/** Node's `clientError`: the connection gets one `{"error"}` answer and is closed. */
export function clientErrorHandler(limits: FrameworkErrorLimits, count: RejectionCounter) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    // A reset connection has no one to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    let status = 400;
    let reason = 'malformed_http';
    let message = `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'})`;
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      reason = 'request_timeout';
      message = `the request did not arrive within ${limits.requestTimeoutMs} ms (--request-timeout-ms)`;
    } else if (error.code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      reason = 'header_too_large';
      message = `the request line and headers are larger than ${limits.headerLimit} bytes (--http-max-header-size)`;
    }
    count?.(reason);
    if (socket.writable) {
      const body = JSON.stringify({ error: message });
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroy();
  };
}

/** fastify's `frameworkErrors`: router refusals that happen before a route is found. */
export function frameworkErrorHandler(limits: FrameworkErrorLimits, count: RejectionCounter) {
  return (error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void => {
    if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
      count?.('url_too_long');
      void reply.code(414).send({ error: `a path parameter of the URL is longer than ${limits.maxParamLength} characters` });
    } else if (error.code === 'FST_ERR_BAD_URL') {
      count?.('malformed_url');
      void reply.code(400).send({ error: 'the URL has a malformed percent-encoded component' });
    } else {
      void reply.code(500).send({ error: `internal error: ${clip(error.message)}` });
    }
  };
}

/**
 * A refusal of the request itself before any route ran: fastify's own 4xx (its parsers and limits) or
 * a zlib error inflating a Content-Encoding body (body-encoding.ts; it carries no status). undefined for
 * anything else, which is the server's failure.
 */
export function clientRefusal(error: FastifyError, limits: FrameworkErrorLimits): { status: number; message: string; reason: string } | undefined {
  const clientSide = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500;
  return clientSide || error.code?.startsWith('Z_') ? fastifyClientError(error, limits) : undefined;
}

/** The message and status of a fastify 4xx error (thrown from its parsers and limits). */
export function fastifyClientError(error: FastifyError, limits: FrameworkErrorLimits): { status: number; message: string; reason: string } {
  const status = error.statusCode ?? 400;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status, reason: 'body_too_large', message: `the request body is larger than the limit of ${limits.bodyLimit} bytes (--http-body-limit)` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status, reason: 'media_type', message: 'the request\'s Content-Type is not supported by this route' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status, reason: 'malformed_http', message: 'the request body does not match its Content-Length' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status, reason: 'malformed_body', message: 'the request says it carries JSON but its body is empty' };
    default:
      if (error.code?.startsWith('Z_')) return { status: 400, reason: 'malformed_body', message: `the request body could not be decompressed: ${clip(error.message)}` };
      return { status, reason: status === 413 ? 'body_too_large' : 'malformed_body', message: clip(error.message, 1000) };
  }
}
