/**
 * Triton's model repository RPCs (RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload): the
 * gRPC form of the REST routes in oip-http/repository-routes.ts, calling the same facade methods
 * after the same authorizeControl(peer) check, so both frontends refuse and fail alike. Parameters
 * are Triton's `ModelRepositoryParameter` oneof: `config` a string_param (JSON), `file:<version>/<name>`
 * a bytes_param, `unload_dependents` a bool_param.
 */
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { VireoError } from '../../core/errors.js';
import type { InferenceServer, LoadModelOptions } from '../../server/inference-server.js';
import { grpcCaller } from './grpc-peer.js';

type ParameterChoice = 'bool_param' | 'int64_param' | 'string_param' | 'bytes_param';
export interface RepositoryParameter {
  parameter_choice?: ParameterChoice;
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  bytes_param?: Buffer;
}
interface IndexRequest { repository_name?: string; ready?: boolean }
interface ModelRequest { repository_name?: string; model_name?: string; parameters?: Record<string, RepositoryParameter | null> }

/** Vireo serves one repository: a named one would be a different repository than the caller means. */
function checkRepositoryName(name: string | undefined): void {
  if (name) throw new VireoError('VIREO_ERR_UNIMPLEMENTED', `repository_name "${name}" is not supported: Vireo serves a single model repository (leave it empty)`);
}

/** The value of a parameter's oneof member, which must be `expected`. */
function valueOf(key: string, parameter: RepositoryParameter | null, expected: ParameterChoice): unknown {
  const choice = parameter?.parameter_choice;
  if (choice !== expected) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `the "${key}" parameter must be a ${expected}${choice ? ` (got ${choice})` : ' (no value set)'}`);
  }
  return parameter![expected];
}

export function loadOptions(parameters: Record<string, RepositoryParameter | null>): LoadModelOptions {
  const options: LoadModelOptions = {};
  for (const [key, parameter] of Object.entries(parameters)) {
    if (key === 'config') {
      options.config = valueOf(key, parameter, 'string_param') as string;
    } else if (key.startsWith('file:')) {
      const bytes = valueOf(key, parameter, 'bytes_param') as Buffer;
      (options.files ??= {})[key.slice(5)] = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } else {
      throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `unknown load parameter "${key}" (expected "config" or "file:<version>/<name>")`);
    }
  }
  return options;
}

export function unloadDependents(parameters: Record<string, RepositoryParameter | null>): boolean {
  const unknown = Object.keys(parameters).filter((k) => k !== 'unload_dependents');
  if (unknown.length > 0) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `unknown unload parameter(s): ${unknown.join(', ')}`);
  return 'unload_dependents' in parameters && valueOf('unload_dependents', parameters.unload_dependents!, 'bool_param') === true;
}

export function repositoryHandlers(server: InferenceServer) {
  return {
    /**
     * Readable in every control mode and from any peer (Triton serves its index in every mode; it
     * changes nothing); rescanned first so model directories added since show up, as on REST.
     */
    RepositoryIndex: async (request: IndexRequest) => {
      await server.refreshRepositoryIndex();
      return {
        models: server.repositoryIndex({ ready: request.ready === true })
          .map((m) => ({ name: m.name, version: m.version ?? '', state: m.state ?? 'UNAVAILABLE', reason: m.reason ?? '' })),
      };
    },
    RepositoryModelLoad: async (request: ModelRequest, call: ServerUnaryCall<ModelRequest, unknown>) => {
      server.authorizeControl(grpcCaller(call));
      checkRepositoryName(request.repository_name);
      await server.loadModel(request.model_name ?? '', loadOptions(request.parameters ?? {}));
      return {};
    },
    RepositoryModelUnload: async (request: ModelRequest, call: ServerUnaryCall<ModelRequest, unknown>) => {
      server.authorizeControl(grpcCaller(call));
      checkRepositoryName(request.repository_name);
      await server.unloadModel(request.model_name ?? '', { unloadDependents: unloadDependents(request.parameters ?? {}) });
      return {};
    },
  };
}
