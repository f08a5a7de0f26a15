/**
 * Triton's shared-memory extension over REST (extension_shared_memory.md): system shared-memory
 * regions are registered, listed and unregistered here (the facade's registry, after its access
 * check); inference requests name them in their inputs' and outputs' parameters. CUDA shared memory
 * answers as a CPU-only Triton does (server/cuda-shared-memory.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VireoError } from '../../core/errors.js';
import { sendError, type HttpOptions } from '../http-common/http-server.js';
import { jsonBody } from '../http-common/json-body.js';
import { callerOf } from '../http-common/access-guard.js';

type RegionRequest = FastifyRequest<{ Params: { region: string } }>;

function registerBody(body: unknown): { key: string; offset: number; byteSize: number } {
  const parsed = body === undefined || (Buffer.isBuffer(body) && body.length === 0) ? {} : jsonBody(body);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'the register request must be a JSON object');
  const { key, offset = 0, byte_size: byteSize } = parsed as Record<string, unknown>;
  if (typeof key !== 'string') throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'the register request needs "key" (the shared-memory object\'s name, e.g. "/my_region")');
  return { key, offset: offset as number, byteSize: byteSize as number };
}

export function sharedMemoryRoutes(app: FastifyInstance, { server }: HttpOptions): void {
  const handle = (work: (request: RegionRequest) => unknown) => async (request: RegionRequest, reply: FastifyReply) => {
    try {
      return reply.send((await work(request)) ?? {});
    } catch (error) {
      return sendError(reply, error);
    }
  };
  // Control routes (http-common/access-guard.ts): the control rule, JSON bodies only.
  const CONTROL = { config: { access: 'control' as const } };
  const registry = (request: FastifyRequest) => server.systemSharedMemory(callerOf(request));

  app.get('/v2/systemsharedmemory/status', CONTROL, handle((r) => registry(r).status()));
  app.get('/v2/systemsharedmemory/region/:region/status', CONTROL, handle((r) => registry(r).status(r.params.region)));
  app.post('/v2/systemsharedmemory/region/:region/register', CONTROL, handle((r) => {
    const shm = registry(r);
    const { key, offset, byteSize } = registerBody(r.body);
    shm.register(r.params.region, key, offset, byteSize);
  }));
  app.post('/v2/systemsharedmemory/region/:region/unregister', CONTROL, handle((r) => registry(r).unregister(r.params.region)));
  app.post('/v2/systemsharedmemory/unregister', CONTROL, handle((r) => registry(r).unregister()));

  // CUDA shared memory as a CPU-only Triton answers it: register refused, status empty, unregister a no-op.
  const cuda = (request: FastifyRequest) => server.cudaSharedMemory(callerOf(request));
  app.get('/v2/cudasharedmemory/status', CONTROL, handle((r) => cuda(r).status()));
  app.get('/v2/cudasharedmemory/region/:region/status', CONTROL, handle((r) => cuda(r).status(r.params.region)));
  app.post('/v2/cudasharedmemory/region/:region/register', CONTROL, handle((r) => cuda(r).register(r.params.region)));
  app.post('/v2/cudasharedmemory/region/:region/unregister', CONTROL, handle((r) => cuda(r).unregister(r.params.region)));
  app.post('/v2/cudasharedmemory/unregister', CONTROL, handle((r) => cuda(r).unregister()));
}
