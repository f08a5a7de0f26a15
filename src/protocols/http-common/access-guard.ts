/**
 * The access guard of every REST route, attached when the route is registered (fastify's onRoute),
 * so a route states what it is and the guard follows:
 *
 *   app.post('/v2/some/control', { config: { access: 'control' } }, handler)
 *
 * - `public`: health probes; nothing is checked.
 * - `inference` (the default for a route that says nothing): an API key when `--api-keys-file` is set.
 * - `control`: a control operation (settings changes, and any new route that changes the server):
 *   the body, if any, must be `application/json` (415 otherwise: a browser can send text/plain or
 *   a form cross-site without a preflight, never JSON) or carry no Content-Type and no Origin (a
 *   non-browser client such as tritonclient.http), then AccessPolicy.authorizeControl with the
 *   peer, `Authorization`, `Host` and `Origin` (401/403).
 * - `repository`: a control operation of the model repository API, which also needs poll or explicit mode.
 *
 * Decided at registration: a route whose level needs no check gets no hook at all.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { clip } from '../../core/bounded-text.js';
import { countRejection } from './framework-errors.js';
import type { Caller } from '../../server/access-policy.js';
import type { InferenceServer } from '../../server/inference-server.js';

export type RouteAccess = 'public' | 'inference' | 'control' | 'repository';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route (http-common/access-guard.ts); default `inference`. */
    access?: RouteAccess;
  }
}

export function callerOf(request: FastifyRequest): Caller {
  const { authorization, host, origin } = request.headers;
  return { remoteAddress: request.socket.remoteAddress, authorization, host, origin };
}

/** A body is on its way when the request says so (Content-Length > 0 or a Transfer-Encoding). */
function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function mediaType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

/** Refuses a control request whose body is not JSON; true when refused (the reply is sent). */
function refuseNonJson(request: FastifyRequest, reply: FastifyReply): boolean {
  const contentType = request.headers['content-type'];
  // No Content-Type: fine without a body, or from a client that is not a browser. Triton's
  // tritonclient.http posts JSON with no Content-Type; a browser (fetch with a Blob body) would
  // send Origin with any POST, so only a body with neither header is taken as JSON.
  const notBrowser = request.headers.origin === undefined;
  if (contentType === undefined ? !hasBody(request) || notBrowser : mediaType(contentType) === 'application/json') return false;
  const got = contentType === undefined ? 'a body without Content-Type' : `"${clip(contentType)}"`;
  countRejection(reply, 'unsupported_media_type');
  void reply.code(415).send({ error: `control operations take application/json bodies only (got ${got})` });
  return true;
}

function denied(reply: FastifyReply, error: unknown, send: (reply: FastifyReply, error: unknown) => FastifyReply): void {
  if ((error as { code?: string }).code === 'VIREO_ERR_UNAUTHENTICATED') reply.header('www-authenticate', 'Bearer');
  send(reply, error);
}

/**
 * Registers the guard for every route added after this call (call it before the routes).
 * `send` answers a refusal in the app's error form.
 */
export function registerAccessGuard(app: FastifyInstance, server: InferenceServer, send: (reply: FastifyReply, error: unknown) => FastifyReply): void {
  const policy = server.access;
  const inference: onRequestHookHandler = (request, reply, done) => {
    try {
      policy.authorizeInference(callerOf(request));
    } catch (error) {
      return denied(reply, error, send);
    }
    done();
  };
  const control = (repository: boolean): onRequestHookHandler => (request, reply, done) => {
    try {
      policy.authorizeControl(callerOf(request), repository);
    } catch (error) {
      return denied(reply, error, send);
    }
    if (refuseNonJson(request, reply)) return;
    done();
  };
  const controlHook = control(false);
  const repositoryHook = control(true);

  app.addHook('onRoute', (route) => {
    // CORS preflights (OPTIONS, answered by @fastify/cors) carry no credentials by design.
    if (route.method === 'OPTIONS' || (Array.isArray(route.method) && route.method.every((m) => m === 'OPTIONS'))) return;
    const access = route.config?.access ?? 'inference';
    const hook = access === 'control' ? controlHook : access === 'repository' ? repositoryHook
      : access === 'inference' && policy.requiresApiKey ? inference : undefined;
    if (!hook) return;
    const existing = route.onRequest;
    route.onRequest = existing === undefined ? [hook] : [hook, ...(Array.isArray(existing) ? existing : [existing])];
  });
}
