/**
 * `GET /openapi.json` (OpenAPI 3.1 of every REST route, built by @fastify/swagger from the routes
 * fastify knows) and `GET /docs` (Swagger UI, served from @fastify/swagger-ui's own files: no CDN,
 * works offline). Must be registered before the routes it documents: @fastify/swagger sees a route
 * only when it is declared after the plugin has loaded (http-server.ts declares routes in `after`).
 *
 * Route bodies and answers are described by route-docs.ts through swagger's `transform`, not by
 * fastify route schemas, so documenting changes neither validation nor serialisation.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { VERSION } from '../../server/version.js';
import { COMPONENT_SCHEMAS } from './component-schemas.js';
import { ROUTE_DOCS, type RouteDoc } from './route-docs.js';

/** Paths that are pages for people, not API. */
const NOT_API = /^\/(docs|console|openapi\.json)(\/|$)/;
/** Swagger UI styles elements inline; everything else comes from this server. */
const DOCS_CSP = "default-src 'self'; base-uri 'self'; frame-ancestors 'self'; img-src 'self' data:; font-src 'self' data:; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'";
export const UNDOCUMENTED_TAG = 'Undocumented';

function routeSchema(doc: RouteDoc): Record<string, unknown> {
  const response = Object.fromEntries(Object.entries(doc.response).map(([code, schema]) => [
    code,
    schema === null ? { description: 'Done; no body', type: 'null' } : { description: code.startsWith('2') ? 'OK' : 'Error', ...schema },
  ]));
  return { summary: doc.summary, tags: doc.tags, ...(doc.body ? { body: doc.body } : {}), response };
}

type OpenApiObject = { paths?: Record<string, Record<string, { requestBody?: { required?: boolean; content?: Record<string, unknown> } }>> };

/** Swagger writes fastify's `:name(regex)` as `{name}`; `::` is an escaped literal colon. */
const openApiPath = (url: string) => url.replace(/::/g, '\u0000').replace(/:(\w+)(\([^)]*\))?/g, '{$1}').replace(/\u0000/g, ':');

function docFor(method: string, path: string): RouteDoc | undefined {
  for (const [key, doc] of ROUTE_DOCS) {
    const [m, url] = key.split(' ') as [string, string];
    if (m.toLowerCase() === method && openApiPath(url) === path) return doc;
  }
  return undefined;
}

function completeBodies(openapi: OpenApiObject): OpenApiObject {
  for (const [path, item] of Object.entries(openapi.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) {
      const doc = docFor(method, path);
      if (!doc || !operation.requestBody) continue;
      if (doc.bodyOptional) operation.requestBody.required = false;
      for (const [type, schema] of Object.entries(doc.otherBodies ?? {})) (operation.requestBody.content ??= {})[type] = { schema };
    }
  }
  return openapi;
}

async function openApiDocs(app: FastifyInstance): Promise<void> {
  for (const schema of COMPONENT_SCHEMAS) app.addSchema(schema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Vireo REST API',
        version: VERSION,
        description: 'Open Inference Protocol (V2) with Triton\'s extensions, the model repository API, and V1 (TF Serving / KServe V1). Errors are `{"error": "..."}`.',
      },
    },
    // Components keep their OIP names (#/components/schemas/inference_request), not def-N.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // What fastify schemas cannot say: bodies in other content types, and bodies that may be absent.
    transformObject: (document) => completeBodies((document as { openapiObject: OpenApiObject }).openapiObject) as never,
    // Fastify adds a HEAD route for each GET; the GET documents both.
    exposeHeadRoutes: false,
    transform: ({ schema, url, route }) => {
      if (NOT_API.test(url) || (schema as { hide?: boolean } | undefined)?.hide) return { schema: { hide: true }, url };
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const doc = ROUTE_DOCS.get(`${methods[0]} ${url}`);
      return { schema: doc ? routeSchema(doc) : { summary: `${methods[0]} ${url}`, tags: [UNDOCUMENTED_TAG] }, url } as never;
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true }, staticCSP: DOCS_CSP });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/** Not encapsulated (fastify-plugin): swagger's route collection must see the routes declared on the root. */
export const registerOpenApiDocs = fastifyPlugin(openApiDocs, { name: 'vireo-openapi-docs' });
