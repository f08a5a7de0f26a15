/**
 * Tensor data in Triton's system shared memory: an input read from the region a request names, and
 * the outputs a request asked for written into theirs. The registry (system-shared-memory.ts) owns
 * the regions; this file owns how tensors lie in them (BYTES length-prefixed, numbers little-endian).
 */
import { dataTypeInfo, type DataType, type NumericArray } from '../core/datatypes.js';
import { VireoError } from '../core/errors.js';
import type { InferRequest, InferResponse } from '../core/inference.js';
import { packBytes, unpackBytes, viewAs, type TensorData } from '../core/tensor.js';
import { sharedMemoryRef, type SharedMemoryRef, type SystemSharedMemory } from './system-shared-memory.js';

/** An input's data read from a registered region (the request's shared_memory_* parameters). */
export function readSharedMemoryInput(registry: SystemSharedMemory, ref: SharedMemoryRef, datatype: DataType, shape: readonly number[], count: number, what: string): TensorData {
  const bytes = registry.read(ref);
  if (datatype === 'BYTES') return unpackBytes(bytes, count, what);
  const expected = count * dataTypeInfo(datatype).size;
  if (bytes.byteLength !== expected) {
    throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: shared_memory_byte_size is ${bytes.byteLength} bytes but shape [${shape.join(',')}] of ${datatype} needs ${expected}`);
  }
  return viewAs(datatype, bytes, count);
}

/** Writes the outputs the request asked for in shared memory into their regions; marks them in the response. */
export function writeSharedMemoryOutputs(registry: SystemSharedMemory, request: InferRequest, response: InferResponse): void {
  for (const output of request.outputs ?? []) {
    const ref = sharedMemoryRef(output.parameters, `output '${output.name}'`);
    if (!ref) continue;
    const tensor = response.outputs.find((t) => t.name === output.name);
    if (!tensor) continue;
    const bytes = tensor.datatype === 'BYTES' ? packBytes(tensor.data as Uint8Array[]) : new Uint8Array((tensor.data as NumericArray).buffer, (tensor.data as NumericArray).byteOffset, (tensor.data as NumericArray).byteLength);
    registry.write(ref, bytes, `output '${output.name}'`);
    (response.sharedMemoryOutputs ??= {})[output.name] = {
      shared_memory_region: ref.region,
      shared_memory_byte_size: bytes.byteLength,
      ...(ref.offset !== 0 ? { shared_memory_offset: ref.offset } : {}),
    };
  }
}
