/**
 * The model console at `/console`: a small page for people (web/console/, plain ES modules, no
 * framework, nothing from a CDN) over the same REST API clients use. Besides the page this adds
 * two read-only JSON routes the page needs and the API does not have in every control mode:
 * `GET /console/api/models` (the repository index, and whether this client may load and unload:
 * the same rule as the repository API, so buttons appear only when the API would accept them)
 * and `GET /console/api/metrics` (the latency, queue and batch-size histograms of the
 * Prometheus registry, which listens on its own port the page cannot reach).
 */
import { callerOf } from '../http-common/access-guard.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError, type HttpOptions, type HttpRoutes } from '../http-common/http-server.js';

/** The metrics as Prometheus text; app/ passes the registry's, absent when metrics are off. */
export type MetricsText = () => Promise<string>;

/** `web/console/` of the package: the same two levels up from src/protocols/ and from dist/protocols/ (and in images, which copy web/). */
const ASSET_DIR = join(import.meta.dirname, '..', '..', '..', 'web', 'console');
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};
/** Every file the page is made of; nothing else under /console is served (no path from the URL reaches the disk). */
const ASSETS = ['index.html', 'console.css', 'console.js', 'dom.js', 'live-stats.js', 'try-it.js', 'result-view.js'];
/** The page loads nothing from elsewhere; uploaded images are shown from blob: URLs. */
const CSP = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
/** The series the page reads; everything else in the registry stays on the metrics port. */
const CONSOLE_SERIES = /^(vireo_request_duration_seconds_(bucket|count)|vireo_queue_duration_seconds_(bucket|count)|vireo_pending_requests|vireo_instances_busy)\{/;

function loadAssets(): Map<string, { type: string; body: Buffer }> {
  return new Map(ASSETS.map((name) => [name, { type: TYPES[name.split('.').pop()!]!, body: readFileSync(join(ASSET_DIR, name)) }]));
}

export function consoleRoutes(metricsText?: MetricsText): HttpRoutes {
  return (app: FastifyInstance, { server }: HttpOptions) => {
    const assets = loadAssets();
    const send = (reply: FastifyReply, name: string) => {
      const asset = assets.get(name)!;
      return reply.header('content-type', asset.type).header('content-security-policy', CSP).header('cache-control', 'no-cache').send(asset.body);
    };
    const hidden = { schema: { hide: true } };
    app.get('/console', hidden, async (_request, reply) => send(reply, 'index.html'));
    app.get('/console/', hidden, async (_request, reply) => send(reply, 'index.html'));
    app.get<{ Params: { file: string } }>('/console/assets/:file', hidden, async (request, reply) => {
      if (!assets.has(request.params.file) || request.params.file === 'index.html') {
        return reply.code(404).send({ error: `no console asset "${request.params.file}"` });
      }
      return send(reply, request.params.file);
    });

    app.get('/console/api/models', hidden, async (request) => {
      let control = true;
      try {
        server.authorizeControl(callerOf(request), true);
      } catch {
        control = false;
      }
      const models = server.repositoryIndex().map((e) => ({ name: e.name, version: e.version ?? '', state: e.state ?? 'UNAVAILABLE', reason: e.reason ?? '' }));
      return { server: server.serverMetadata(), control, metrics: metricsText !== undefined, models };
    });

    // Vireo's own form of a configuration (GET /v2/models/{m}/config answers Triton's, which has no
    // place for Vireo's keys such as a dataframe input's `columns` that the try-it panel needs).
    app.get('/console/api/models/:model/config', hidden, async (request: FastifyRequest<{ Params: { model: string } }>, reply) => {
      try {
        return server.modelConfig(request.params.model);
      } catch (error) {
        return sendError(reply, error);
      }
    });

    app.get('/console/api/metrics', hidden, async (_request, reply) => {
      if (!metricsText) return reply.code(404).send({ error: 'metrics are off (--allow-metrics=false)' });
      const lines = (await metricsText()).split('\n').filter((line) => CONSOLE_SERIES.test(line));
      return reply.header('content-type', 'text/plain; charset=utf-8').send(`${lines.join('\n')}\n`);
    });
  };
}
