/**
 * Loads the served protos once: Triton's grpc_service.proto (a superset of the OIP proto, see
 * proto/README.md) with model_config.proto, which it imports by bare file name, so the proto folder
 * is the include directory. The folder sits at the package root so src/ and dist/ resolve it alike.
 */
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

export const PROTO_DIR = fileURLToPath(new URL('../../../proto/triton/', import.meta.url));

/**
 * keepCase: the proto's snake_case names are the JSON names of the REST protocol too.
 * longs as strings: int64/uint64 tensor contents must not lose precision (shapes are checked on use).
 * defaults: absent repeated fields arrive as [], absent messages as null. oneofs: `parameter_choice`
 * names the member of an InferParameter that is set.
 */
export const LOADER_OPTIONS: Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

let cached: ServiceDefinition | undefined;

export function inferenceServiceDefinition(): ServiceDefinition {
  if (!cached) {
    const definition = loadSync('grpc_service.proto', { ...LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
    const inference = loadPackageDefinition(definition).inference as GrpcObject;
    cached = (inference.GRPCInferenceService as { service: ServiceDefinition }).service;
  }
  return cached;
}
