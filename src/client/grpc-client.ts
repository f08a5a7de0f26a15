/**
 * A TypeScript client for Vireo's (and any OIP / Triton) gRPC API: typed arrays in, typed arrays
 * out, raw contents by default (no per-element work on either side), one channel for every call.
 * Streams answer in request order (Vireo's ModelStreamInfer guarantees it), so each stream call
 * resolves with its own response. Implements the transport-neutral InferenceClient (types.ts).
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { parseDataType, type DataType } from '../core/datatypes.js';
import type { ModelIndexEntry } from '../core/inference.js';
import { decodeOutputs, encodeInputs, fromParameters, toParameters, type WireResponse } from './grpc-client-codec.js';
import { makeInferResult } from './infer-result.js';
import {
  InferenceClientError, type InferenceClient, type InferInput, type InferOptions, type InferResult, type ModelMetadata, type Parameters, type ServerMetadata,
} from './types.js';

/** The shared options, plus how a gRPC request carries its tensors. */
export interface GrpcInferOptions extends InferOptions {
  /**
   * `raw` sends raw_input_contents, `typed` sends InferTensorContents. Default: raw, or typed when
   * `binary: false` is given (the gRPC counterpart of HTTP's JSON form).
   */
  contents?: 'raw' | 'typed';
  /** gRPC deadline in milliseconds from now. */
  deadlineMs?: number;
}

export interface GrpcClientOptions {
  /** Largest message sent or received, in bytes (default 64 MiB; -1: unlimited). */
  maxMessageSize?: number;
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
}

/** A stream request answered with `error_message` carries no status code; it is reported as UNKNOWN. */
const grpcError = (message: string, code: grpc.status = grpc.status.UNKNOWN) => new InferenceClientError(message, code, 'grpc');

const PROTO_DIR = fileURLToPath(new URL('../../proto/triton/', import.meta.url));
const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
let serviceClass: grpc.ServiceClientConstructor | undefined;

function service(): grpc.ServiceClientConstructor {
  if (!serviceClass) {
    const pkg = grpc.loadPackageDefinition(loadSync('grpc_service.proto', { ...LOADER_OPTIONS, includeDirs: [PROTO_DIR] }));
    serviceClass = (pkg.inference as grpc.GrpcObject).GRPCInferenceService as grpc.ServiceClientConstructor;
  }
  return serviceClass;
}

type Unary = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (e: grpc.ServiceError | null, r: any) => void) => grpc.ClientUnaryCall;

function toResult(response: WireResponse): InferResult {
  return makeInferResult({
    modelName: response.model_name,
    modelVersion: response.model_version,
    id: response.id || undefined,
    parameters: fromParameters(response.parameters),
    outputs: decodeOutputs(response),
  });
}

function buildRequest(model: string, inputs: readonly InferInput[], options: GrpcInferOptions): unknown {
  const parameters: Parameters = { ...options.parameters };
  if (options.priority !== undefined) parameters.priority = options.priority;
  if (options.timeoutUs !== undefined) parameters.timeout = options.timeoutUs;
  return {
    model_name: model,
    model_version: options.version ?? '',
    id: options.id ?? '',
    parameters: toParameters(parameters),
    outputs: (options.outputs ?? []).map((o) => ({ name: typeof o === 'string' ? o : o.name })),
    ...encodeInputs(inputs, options.contents ?? (options.binary === false ? 'typed' : 'raw')),
  };
}

export class GrpcInferenceClient implements InferenceClient {
  readonly #client: grpc.Client;

  /** `target` is `host:port`, as for Triton's client (e.g. `localhost:8001`). */
  constructor(target: string, options: GrpcClientOptions = {}) {
    const size = options.maxMessageSize ?? 64 * 1024 * 1024;
    this.#client = new (service())(target, options.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': size,
      'grpc.max_send_message_length': size,
      // HTTP/2's default 64 KiB receive window makes a multi-megabyte response wait on window
      // updates; a 16 MiB window lets it stream through.
      'grpc-node.flow_control_window': 16 * 1024 * 1024,
      ...options.channelOptions,
    });
  }

  #call<T>(method: string, request: unknown, options: { signal?: AbortSignal; deadlineMs?: number } = {}): Promise<T> {
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) return reject(grpcError('the call was aborted', grpc.status.CANCELLED));
      const callOptions: grpc.CallOptions = options.deadlineMs !== undefined ? { deadline: Date.now() + options.deadlineMs } : {};
      const fn = (this.#client as unknown as Record<string, Unary>)[method]!.bind(this.#client);
      const call = fn(request, new grpc.Metadata(), callOptions, (error, response) => {
        options.signal?.removeEventListener('abort', abort);
        if (error) reject(grpcError(error.details || error.message, error.code));
        else resolve(response as T);
      });
      const abort = () => call.cancel();
      options.signal?.addEventListener('abort', abort, { once: true });
    });
  }

  async serverLive(): Promise<boolean> {
    return (await this.#call<{ live: boolean }>('ServerLive', {})).live;
  }

  async serverReady(): Promise<boolean> {
    return (await this.#call<{ ready: boolean }>('ServerReady', {})).ready;
  }

  async modelReady(name: string, version = ''): Promise<boolean> {
    return (await this.#call<{ ready: boolean }>('ModelReady', { name, version })).ready;
  }

  serverMetadata(): Promise<ServerMetadata> {
    return this.#call<ServerMetadata>('ServerMetadata', {});
  }

  async modelMetadata(name: string, version = ''): Promise<ModelMetadata> {
    const m = await this.#call<any>('ModelMetadata', { name, version });
    const tensor = (t: { name: string; datatype: string; shape: string[] }) => ({ name: t.name, datatype: parseDataType(t.datatype) ?? (t.datatype as DataType), shape: t.shape.map(Number) });
    return { name: m.name, versions: m.versions, platform: m.platform, inputs: m.inputs.map(tensor), outputs: m.outputs.map(tensor) };
  }

  /** Triton's ModelConfig message as a plain object (64-bit numbers as strings). */
  async modelConfig(name: string, version = ''): Promise<Record<string, unknown>> {
    return (await this.#call<{ config: Record<string, unknown> }>('ModelConfig', { name, version })).config;
  }

  /** Triton's statistics (64-bit counters as decimal strings); no name: every model. */
  async modelStatistics(name = '', version = ''): Promise<Record<string, unknown>[]> {
    return (await this.#call<{ model_stats: Record<string, unknown>[] }>('ModelStatistics', { name, version })).model_stats;
  }

  async repositoryIndex(readyOnly = false): Promise<ModelIndexEntry[]> {
    const { models } = await this.#call<{ models: { name: string; version: string; state: string; reason: string }[] }>('RepositoryIndex', { ready: readyOnly });
    return models.map((m) => ({ name: m.name, version: m.version || undefined, state: (m.state || undefined) as ModelIndexEntry['state'], reason: m.reason || undefined }));
  }

  async infer(model: string, inputs: readonly InferInput[], options: GrpcInferOptions = {}): Promise<InferResult> {
    return toResult(await this.#call<WireResponse>('ModelInfer', buildRequest(model, inputs, options), options));
  }

  /** Opens a ModelStreamInfer call; every request sent on it resolves with its own response. */
  stream(): GrpcInferStream {
    return new GrpcInferStream((this.#client as unknown as { ModelStreamInfer(): grpc.ClientDuplexStream<unknown, any> }).ModelStreamInfer());
  }

  /** Closes the channel; calls already started still complete. */
  async close(): Promise<void> {
    this.#client.close();
  }
}

export class GrpcInferStream {
  readonly #call: grpc.ClientDuplexStream<unknown, { error_message: string; infer_response: WireResponse | null }>;
  readonly #waiting: { resolve(r: InferResult): void; reject(e: Error): void }[] = [];
  readonly #ended: Promise<void>;
  #failure: Error | undefined;

  constructor(call: grpc.ClientDuplexStream<unknown, { error_message: string; infer_response: WireResponse | null }>) {
    this.#call = call;
    call.on('data', (message) => {
      const waiter = this.#waiting.shift();
      if (!waiter) return;
      if (message.error_message) waiter.reject(grpcError(message.error_message));
      else waiter.resolve(toResult(message.infer_response!));
    });
    this.#ended = new Promise((resolve) => {
      const fail = (error: Error) => {
        this.#failure = error;
        for (const w of this.#waiting.splice(0)) w.reject(error);
      };
      call.on('error', (e: grpc.ServiceError) => { fail(grpcError(e.details || e.message, e.code)); resolve(); });
      call.on('end', () => { fail(grpcError('the stream ended before answering', grpc.status.UNAVAILABLE)); resolve(); });
    });
  }

  infer(model: string, inputs: readonly InferInput[], options: Omit<GrpcInferOptions, 'signal' | 'deadlineMs'> = {}): Promise<InferResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    let request: unknown;
    try {
      request = buildRequest(model, inputs, options);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#call.write(request);
    });
  }

  /** Half-closes the stream; resolves once the server has answered everything and ended it. */
  end(): Promise<void> {
    this.#call.end();
    return this.#ended;
  }

  /** Cancels the stream; requests not yet answered reject. */
  cancel(): void {
    this.#call.cancel();
  }
}
