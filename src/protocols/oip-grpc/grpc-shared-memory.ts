/**
 * Triton's shared-memory RPCs: SystemSharedMemoryStatus/Register/Unregister over the facade's
 * registry (after its access check, with the peer address), and CudaSharedMemory* answering that
 * this server does not support CUDA shared memory.
 */
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { VireoError } from '../../core/errors.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { grpcCaller } from './grpc-peer.js';

interface NameRequest { name?: string }
interface RegisterRequest { name?: string; key?: string; offset?: string | number; byte_size?: string | number }

const NO_CUDA = () => {
  throw new VireoError('VIREO_ERR_UNIMPLEMENTED', 'CUDA shared memory is not supported on this server (it serves from CPU memory); use system shared memory');
};

export function sharedMemoryHandlers(server: InferenceServer) {
  const registry = (call: ServerUnaryCall<unknown, unknown>) => server.systemSharedMemory(grpcCaller(call));
  return {
    SystemSharedMemoryStatus: (request: NameRequest, call: ServerUnaryCall<NameRequest, unknown>) => ({
      regions: Object.fromEntries(registry(call).status(request.name || undefined).map((r) => [r.name, r])),
    }),
    SystemSharedMemoryRegister: (request: RegisterRequest, call: ServerUnaryCall<RegisterRequest, unknown>) => {
      // uint64 fields arrive as decimal strings (LOADER_OPTIONS longs: String).
      registry(call).register(request.name ?? '', request.key ?? '', Number(request.offset ?? 0), Number(request.byte_size ?? 0));
      return {};
    },
    SystemSharedMemoryUnregister: (request: NameRequest, call: ServerUnaryCall<NameRequest, unknown>) => {
      registry(call).unregister(request.name || undefined);
      return {};
    },
    CudaSharedMemoryStatus: NO_CUDA,
    CudaSharedMemoryRegister: NO_CUDA,
    CudaSharedMemoryUnregister: NO_CUDA,
  };
}
