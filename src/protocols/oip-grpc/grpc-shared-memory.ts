/**
 * Triton's shared-memory RPCs: SystemSharedMemoryStatus/Register/Unregister over the facade's
 * registry (after its access check, with the peer address), and CudaSharedMemory* answered as a
 * CPU-only Triton answers them (server/cuda-shared-memory.ts).
 */
import type { ServerUnaryCall } from '@grpc/grpc-js';
import type { InferenceServer } from '../../server/inference-server.js';
import { grpcCaller } from './grpc-peer.js';

interface NameRequest { name?: string }
interface RegisterRequest { name?: string; key?: string; offset?: string | number; byte_size?: string | number }

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
    // As a CPU-only Triton: no CUDA region is listed, registering one is refused, unregistering is a no-op.
    CudaSharedMemoryStatus: (request: NameRequest, call: ServerUnaryCall<NameRequest, unknown>) => {
      server.cudaSharedMemory(grpcCaller(call)).status(request.name || undefined);
      return { regions: {} };
    },
    CudaSharedMemoryRegister: (request: NameRequest, call: ServerUnaryCall<NameRequest, unknown>) => server.cudaSharedMemory(grpcCaller(call)).register(request.name ?? ''),
    CudaSharedMemoryUnregister: (request: NameRequest, call: ServerUnaryCall<NameRequest, unknown>) => {
      server.cudaSharedMemory(grpcCaller(call)).unregister(request.name || undefined);
      return {};
    },
  };
}
