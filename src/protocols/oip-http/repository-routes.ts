/**
 * Triton's model repository extension over REST (extension_model_repository.md): index, load and
 * unload. Served only in poll or explicit control mode, to callers the access guard admits
 * (http-common/access-guard.ts: a control token, or loopback under a loopback Host). Bodies may
 * be empty, so these routes read JSON themselves in their own fastify scope.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VireoError } from '../../core/errors.js';
import type { ModelIndexEntry } from '../../core/inference.js';
import type { LoadModelOptions } from '../../server/inference-server.js';
import { sendError, type HttpOptions } from '../http-common/http-server.js';
import { parseBoundedJson, type JsonLimits } from '../http-common/json-limits.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bodyObject(body: unknown, what: string, limits: JsonLimits): Record<string, unknown> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : '');
  if (bytes.toString('utf8').trim() === '') return {};
  const parsed = parseBoundedJson(bytes, limits, `the ${what} body`);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `the ${what} body must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function parametersOf(body: Record<string, unknown>, what: string): Record<string, unknown> {
  const unknown = Object.keys(body).filter((k) => k !== 'parameters');
  if (unknown.length > 0) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `unknown field(s) in the ${what} request: ${unknown.join(', ')}`);
  const parameters = body.parameters ?? {};
  if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `"parameters" of the ${what} request must be an object`);
  }
  return parameters as Record<string, unknown>;
}

function loadOptions(parameters: Record<string, unknown>): LoadModelOptions {
  const options: LoadModelOptions = {};
  for (const [key, value] of Object.entries(parameters)) {
    if (key === 'config') {
      if (typeof value !== 'string' && (value === null || typeof value !== 'object')) {
        throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'the "config" parameter must be a JSON string (or object)');
      }
      options.config = value as string | Record<string, unknown>;
    } else if (key.startsWith('file:')) {
      if (typeof value !== 'string' || !BASE64.test(value) || value.length % 4 === 1) {
        throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `the "${key}" parameter must be base64-encoded file content`);
      }
      (options.files ??= {})[key.slice(5)] = new Uint8Array(Buffer.from(value, 'base64'));
    } else {
      throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `unknown load parameter "${key}" (expected "config" or "file:<version>/<name>")`);
    }
  }
  return options;
}

const indexJson = (e: ModelIndexEntry) => ({
  name: e.name,
  ...(e.version !== undefined ? { version: e.version } : {}),
  state: e.state ?? 'UNAVAILABLE',
  reason: e.reason ?? '',
  ...(e.memoryBytes !== undefined ? { memory_bytes: e.memoryBytes } : {}),
});

type ModelRequest = FastifyRequest<{ Params: { model: string } }>;

export function repositoryRoutes(app: FastifyInstance, { server }: HttpOptions): void {
  void app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

    // The index is a read-only listing: it answers in every control mode, as the gRPC RepositoryIndex does (Triton).
    scope.post('/v2/repository/index', { config: { access: 'control' } }, async (request, reply) => {
      try {
        const body = bodyObject(request.body, 'index', request.server.jsonLimits);
        const unknown = Object.keys(body).filter((k) => k !== 'ready' && k !== 'repository_name');
        if (unknown.length > 0) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `unknown field(s) in the index request: ${unknown.join(', ')}`);
        if (body.ready !== undefined && typeof body.ready !== 'boolean') throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', '"ready" must be a boolean');
        await server.refreshRepositoryIndex();
        return reply.send(server.repositoryIndex({ ready: body.ready === true }).map(indexJson));
      } catch (error) {
        return sendError(reply, error);
      }
    });

    scope.post('/v2/repository/models/:model/load', { config: { access: 'repository' } }, async (request: ModelRequest, reply) => {
      try {
        const options = loadOptions(parametersOf(bodyObject(request.body, 'load', request.server.jsonLimits), 'load'));
        await server.loadModel(request.params.model, options);
        return reply.code(200).send();
      } catch (error) {
        return sendError(reply, error);
      }
    });

    scope.post('/v2/repository/models/:model/unload', { config: { access: 'repository' } }, async (request: ModelRequest, reply) => {
      try {
        const parameters = parametersOf(bodyObject(request.body, 'unload', request.server.jsonLimits), 'unload');
        const unknown = Object.keys(parameters).filter((k) => k !== 'unload_dependents');
        if (unknown.length > 0) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `unknown unload parameter(s): ${unknown.join(', ')}`);
        if (parameters.unload_dependents !== undefined && typeof parameters.unload_dependents !== 'boolean') {
          throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', '"unload_dependents" must be a boolean');
        }
        await server.unloadModel(request.params.model, { unloadDependents: parameters.unload_dependents === true });
        return reply.code(200).send();
      } catch (error) {
        return sendError(reply, error);
      }
    });
  });
}
