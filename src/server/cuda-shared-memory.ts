/**
 * Triton's CUDA shared-memory extension on a server without GPUs, answered as a CPU-only Triton
 * build answers it: registering a region is refused ("GPUs not supported"), while the status lists
 * no regions and unregistering succeeds with nothing to do. Triton's shared-memory clients
 * (simple_http_shm_client.py, simple_grpc_shm_client.py) unregister every CUDA region before they
 * start, so refusing that call would stop them on a server that has no CUDA region at all.
 */
import { VireoError } from '../core/errors.js';
import type { RegionStatus, SystemSharedMemory } from './system-shared-memory.js';

export class CudaSharedMemory {
  readonly #system: SystemSharedMemory;

  constructor(system: SystemSharedMemory) {
    this.#system = system;
  }

  /** No CUDA region is ever registered: every region, or the named one, is not found. */
  status(name?: string): RegionStatus[] {
    if (name === undefined) return [];
    if (this.#system.status().some((region) => region.name === name)) {
      throw new VireoError('VIREO_ERR_SHM_NOT_FOUND', `The region named '${name}' is registered as system shared memory, not CUDA shared memory`);
    }
    throw new VireoError('VIREO_ERR_SHM_NOT_FOUND', `Unable to find cuda shared memory region: '${name}'`);
  }

  register(name: string): never {
    if (!name) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', "'region name' is necessary to register cuda shared memory region");
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `failed to register CUDA shared memory region: '${name}', GPUs not supported (this server serves from CPU memory; use system shared memory)`);
  }

  /** Nothing to release: unregistering one CUDA region or all of them succeeds, as in Triton. */
  unregister(_name?: string): void {}
}
