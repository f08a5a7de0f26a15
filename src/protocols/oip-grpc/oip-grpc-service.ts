/**
 * The `inference.GRPCInferenceService` handlers: OIP's RPCs plus the Triton ones a Triton client
 * calls (stream, config, statistics, model repository, trace and log settings). Each calls only the InferenceServer facade.
 * Every other RPC of Triton's service answers UNIMPLEMENTED at once, never leaving a call open.
 */
import {
  status as GrpcStatus, type ServerDuplexStream, type ServerUnaryCall, type ServiceDefinition, type UntypedHandleCall, type UntypedServiceImplementation, type sendUnaryData,
} from '@grpc/grpc-js';
import { VireoError } from '../../core/errors.js';
import type { Logger } from '../../logging/logger.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { toServiceError } from './grpc-errors.js';
import { parseModelInferRequest, toModelInferResponse, type ModelInferRequestMessage } from './grpc-infer-codec.js';
import { countUnary, logSettings, traceFromMetadata, traceSetting } from './grpc-observability.js';
import { grpcCaller } from './grpc-peer.js';
import { repositoryHandlers } from './grpc-repository.js';
import { sharedMemoryHandlers } from './grpc-shared-memory.js';
import type { SharedMemoryInput } from '../oip-http/oip-json-codec.js';
import { handleInferStream, type StreamRegistry } from './infer-stream.js';

export interface ServiceContext {
  server: InferenceServer;
  logger: Logger;
  /** Open ModelStreamInfer calls, so shutdown can end them once their requests are answered. */
  streams: StreamRegistry;
}

interface ModelRequest { name: string; version: string }

/** A unary handler from a function that returns (or resolves to) the response or throws a VireoError. */
function unary<Req>(logger: Logger, handle: (request: Req, call: ServerUnaryCall<Req, unknown>) => unknown) {
  return (call: ServerUnaryCall<Req, unknown>, callback: sendUnaryData<unknown>) => {
    Promise.resolve()
      .then(() => handle(call.request, call))
      .then((response) => callback(null, response), (error) => callback(toServiceError(error, logger)));
  };
}

/** Aborted when the client cancels the call or its deadline passes, so a queued request is dropped. */
function callSignal(call: ServerUnaryCall<unknown, unknown>): AbortSignal {
  const controller = new AbortController();
  call.once('cancelled', () => controller.abort());
  return controller.signal;
}

const version = (v: string) => v || undefined;

export function inferenceServiceHandlers(ctx: ServiceContext): Record<string, UntypedHandleCall> {
  const { server, logger } = ctx;
  const repository = repositoryHandlers(server);
  const sharedMemory = sharedMemoryHandlers(server);
  const sharedMemoryInput: SharedMemoryInput = (ref, datatype, shape, count, what) => server.sharedMemoryInput(ref, datatype, shape, count, what);
  return countUnary(withApiKeys({
    ServerLive: unary(logger, () => ({ live: server.isLive() })),
    ServerReady: unary(logger, () => ({ ready: server.isReady() })),
    ModelReady: unary<ModelRequest>(logger, (r) => ({ ready: server.modelReady(r.name, version(r.version)) })),
    ServerMetadata: unary(logger, () => server.serverMetadata()),
    ModelMetadata: unary<ModelRequest>(logger, (r) => server.modelMetadata(r.name, version(r.version))),
    ModelInfer: unary<ModelInferRequestMessage>(logger, async (message, call) => {
      const trace = traceFromMetadata(server, message.model_name, version(message.model_version ?? ''), call.metadata, message.id);
      try {
        server.requireModel(message.model_name, message.model_version);
        const { request } = parseModelInferRequest(message, callSignal(call), sharedMemoryInput);
        request.trace = trace;
        const response = await server.infer(request);
        // A client that cancelled or ran out of deadline reads nothing: skip encoding its answer.
        if (call.cancelled) throw new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'the client cancelled the call');
        if (trace === undefined) return toModelInferResponse(response);
        trace.encoding();
        const encoded = toModelInferResponse(response);
        trace.end();
        return encoded;
      } catch (error) {
        trace?.end(error);
        throw error;
      }
    }),
    ModelStreamInfer: (call: ServerDuplexStream<ModelInferRequestMessage, unknown>) => handleInferStream(call, ctx),
    ModelConfig: unary<ModelRequest>(logger, (r) => ({ config: server.tritonModelConfig(r.name, version(r.version)) })),
    ModelStatistics: unary<ModelRequest>(logger, (r) => ({ model_stats: server.statistics(r.name || undefined, version(r.version)) })),
    RepositoryIndex: unary(logger, repository.RepositoryIndex),
    RepositoryModelLoad: unary(logger, repository.RepositoryModelLoad),
    RepositoryModelUnload: unary(logger, repository.RepositoryModelUnload),
    SystemSharedMemoryStatus: unary(logger, sharedMemory.SystemSharedMemoryStatus),
    SystemSharedMemoryRegister: unary(logger, sharedMemory.SystemSharedMemoryRegister),
    SystemSharedMemoryUnregister: unary(logger, sharedMemory.SystemSharedMemoryUnregister),
    CudaSharedMemoryStatus: unary(logger, sharedMemory.CudaSharedMemoryStatus),
    CudaSharedMemoryRegister: unary(logger, sharedMemory.CudaSharedMemoryRegister),
    CudaSharedMemoryUnregister: unary(logger, sharedMemory.CudaSharedMemoryUnregister),
    TraceSetting: unary(logger, traceSetting(server)),
    LogSettings: unary(logger, logSettings(server)),
  }, server), server.protocolRecorder, STREAMING);
}

const STREAMING = new Set(['ModelStreamInfer']);
/** Answered without an API key, like REST's /v2/health/*: probes carry no credentials. */
const PUBLIC = new Set(['ServerLive', 'ServerReady', 'ModelReady']);

/**
 * With API keys configured (`--api-keys-file`), every RPC but the health ones first checks the
 * `authorization` metadata (server/access-policy.ts); control RPCs check the control token on top.
 * Without keys the handlers are returned as they are: nothing is checked per call.
 */
function withApiKeys(handlers: Record<string, UntypedHandleCall>, server: InferenceServer): Record<string, UntypedHandleCall> {
  if (!server.access.requiresApiKey) return handlers;
  const out: Record<string, UntypedHandleCall> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    if (PUBLIC.has(name)) {
      out[name] = handler;
      continue;
    }
    const call = handler as (call: ServerUnaryCall<unknown, unknown> | ServerDuplexStream<unknown, unknown>, callback?: sendUnaryData<unknown>) => void;
    out[name] = ((c: ServerUnaryCall<unknown, unknown> | ServerDuplexStream<unknown, unknown>, callback?: sendUnaryData<unknown>) => {
      try {
        server.access.authorizeInference(grpcCaller(c));
      } catch (error) {
        server.protocolRecorder?.rejectedRequest?.('grpc', 'unauthenticated');
        if (callback) return callback(toServiceError(error));
        return (c as ServerDuplexStream<unknown, unknown>).emit('error', toServiceError(error));
      }
      call(c, callback);
    }) as UntypedHandleCall;
  }
  return out;
}

/** Handlers for every method of `definition`: the given ones, and UNIMPLEMENTED for the rest. */
export function withUnimplemented(definition: ServiceDefinition, handlers: Record<string, UntypedHandleCall>): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const given = handlers[name] ?? handlers[method.originalName ?? name];
    if (given) {
      out[name] = given;
      continue;
    }
    const error = { code: GrpcStatus.UNIMPLEMENTED, details: `${name} is not implemented by Vireo` };
    out[name] = method.requestStream || method.responseStream
      ? ((call: { emit(event: 'error', e: unknown): void }) => call.emit('error', error)) as UntypedHandleCall
      : ((_call: unknown, callback: sendUnaryData<unknown>) => callback(error)) as UntypedHandleCall;
  }
  return out;
}
