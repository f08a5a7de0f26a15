/**
 * Triton's system shared-memory extension (extension_shared_memory.md): clients register POSIX
 * shared-memory objects (`/dev/shm/<key>`) as named regions and pass inputs and outputs by
 * reference (region, offset, byte size) instead of in the request.
 *
 * Invariants: a region is only ever a regular file directly under /dev/shm (the key is one path
 * segment, opened without following links, and must be a regular file), held open by its file
 * descriptor from register to unregister; every access is checked against the region's registered
 * window (offset + byte_size) before any byte is read or written, and the window against the
 * file's size at registration. Reads and writes go through the descriptor (tmpfs keeps them
 * coherent with the client's own mapping). At most MAX_REGIONS regions are held.
 * Messages are Triton's (server src/shared_memory_manager.cc) where it has them.
 */
import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { VireoError } from '../core/errors.js';

export const SHM_DIR = '/dev/shm';
const MAX_REGIONS = 1024;
/** One path segment, as shm_open takes it (`/name`; the leading slash is optional here). */
const KEY = /^\/?[A-Za-z0-9_.-]{1,255}$/;

export interface RegionStatus {
  name: string;
  key: string;
  offset: number;
  byte_size: number;
}

interface Region extends RegionStatus {
  fd: number;
}

export interface SharedMemoryRef {
  region: string;
  offset: number;
  byteSize: number;
}

const invalid = (message: string): never => {
  throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', message);
};

const isSize = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

export class SystemSharedMemory {
  readonly #regions = new Map<string, Region>();

  register(name: string, key: string, offset: number, byteSize: number): void {
    if (!name || !isSize(offset) || !isSize(byteSize) || byteSize === 0) invalid(`failed to register shared memory region '${name}': invalid args`);
    if (this.#regions.has(name)) invalid(`shared memory region '${name}' already in manager`);
    if (this.#regions.size >= MAX_REGIONS) throw new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', `at most ${MAX_REGIONS} shared memory regions can be registered`);
    if (!KEY.test(key) || key.replace(/^\//, '') === '.' || key.replace(/^\//, '') === '..') {
      invalid(`Invalid shared memory region: '${key}' (a key names an object in ${SHM_DIR}: one path segment, e.g. "/my_region")`);
    }
    const path = `${SHM_DIR}/${key.replace(/^\//, '')}`;
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
    } catch {
      return invalid(`Unable to open shared memory region: '${key}'`);
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) invalid(`Invalid shared memory region: '${key}' (not a shared memory object)`);
      if (offset + byteSize > stat.size) invalid(`Invalid offset + byte size for shared memory region: '${name}' (the object has ${stat.size} bytes)`);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    this.#regions.set(name, { name, key, offset, byte_size: byteSize, fd });
  }

  /** Unregisters one region, or every region when `name` is empty. An unknown name is no error (as Triton). */
  unregister(name?: string): void {
    const names = name ? [name] : [...this.#regions.keys()];
    for (const n of names) {
      const region = this.#regions.get(n);
      if (!region) continue;
      this.#regions.delete(n);
      closeSync(region.fd);
    }
  }

  status(name?: string): RegionStatus[] {
    if (name) {
      const region = this.#regions.get(name);
      if (!region) throw new VireoError('VIREO_ERR_SHM_NOT_FOUND', `Unable to find system shared memory region: '${name}'`);
      return [this.#public(region)];
    }
    return [...this.#regions.values()].map((r) => this.#public(r));
  }

  #public({ name, key, offset, byte_size }: Region): RegionStatus {
    return { name, key, offset, byte_size };
  }

  #window(ref: SharedMemoryRef): { region: Region; position: number } {
    const region = this.#regions.get(ref.region);
    if (!region) throw new VireoError('VIREO_ERR_SHM_NOT_FOUND', `Unable to find shared memory region: '${ref.region}'`);
    if (!isSize(ref.offset) || ref.offset >= region.byte_size) invalid(`Invalid offset for shared memory region: '${ref.region}'`);
    if (!isSize(ref.byteSize) || ref.offset + ref.byteSize > region.byte_size) invalid(`Invalid offset + byte size for shared memory region: '${ref.region}'`);
    return { region, position: region.offset + ref.offset };
  }

  /** A fresh, aligned copy of `byteSize` bytes of a region. */
  read(ref: SharedMemoryRef): Uint8Array {
    const { region, position } = this.#window(ref);
    const bytes = new Uint8Array(ref.byteSize);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(region.fd, bytes, done, bytes.length - done, position + done);
      if (n === 0) invalid(`shared memory region '${ref.region}' is shorter than registered (it was truncated)`);
      done += n;
    }
    return bytes;
  }

  /** Writes `bytes` at the reference's offset; they must fit in its byte size. */
  write(ref: SharedMemoryRef, bytes: Uint8Array, what: string): void {
    const { region, position } = this.#window(ref);
    if (bytes.byteLength > ref.byteSize) {
      invalid(`${what}: ${bytes.byteLength} bytes do not fit in the ${ref.byteSize} bytes given in shared memory region '${ref.region}'`);
    }
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(region.fd, bytes, done, bytes.byteLength - done, position + done);
  }

  close(): void {
    this.unregister();
  }
}

/** The `shared_memory_*` parameters of an input or output, or undefined when it has none. */
export function sharedMemoryRef(parameters: Record<string, unknown> | undefined, what: string): SharedMemoryRef | undefined {
  const region = parameters?.shared_memory_region;
  if (region === undefined) return undefined;
  if (typeof region !== 'string' || region === '') invalid(`${what}: shared_memory_region must be a non-empty string`);
  const byteSize = Number(parameters!.shared_memory_byte_size);
  const offset = parameters!.shared_memory_offset === undefined ? 0 : Number(parameters!.shared_memory_offset);
  if (!isSize(byteSize)) invalid(`${what}: shared_memory_byte_size must be given with shared_memory_region, as a non-negative integer`);
  if (!isSize(offset)) invalid(`${what}: shared_memory_offset must be a non-negative integer`);
  return { region: region as string, offset, byteSize };
}
