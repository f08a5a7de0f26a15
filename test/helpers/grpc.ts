/**
 * Plain grpc-js clients generated at run time from the proto files, as any gRPC user would make
 * them (independent of Vireo's own client): Triton's service as Vireo serves it, the untouched OIP
 * proto, and the standard health service. Calls are promisified; errors resolve to their status.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import type { ServeOptions } from '../../src/app/start-server.js';
import { makeRepository, type ModelFiles } from './repository.js';
import { startTestServer, type TestServer } from './server.js';

const root = join(import.meta.dirname, '..', '..');
const loaderOptions = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

type Constructor = new (target: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => grpc.Client;

function load(file: string, dir: string, service: string): Constructor {
  const pkg = grpc.loadPackageDefinition(loadSync(file, { ...loaderOptions, includeDirs: [dir] })) as any;
  return service.split('.').reduce((o, k) => o[k], pkg) as Constructor;
}

const TritonService = load('grpc_service.proto', join(root, 'proto', 'triton'), 'inference.GRPCInferenceService');
const OipService = load('open_inference_grpc.proto', join(root, 'test', 'fixtures', 'open-inference-protocol'), 'inference.GRPCInferenceService');
const HealthService = load(healthProtoPath, root, 'grpc.health.v1.Health');

export interface RpcClient {
  /** Resolves with the response; rejects with the grpc-js ServiceError. */
  call(method: string, request: unknown, options?: grpc.CallOptions): Promise<any>;
  raw: any;
  close(): void;
}

function wrap(client: grpc.Client): RpcClient {
  const raw = client as any;
  return {
    raw,
    call: (method, request, options = {}) => new Promise((resolve, reject) => {
      raw[method](request, options, (error: grpc.ServiceError | null, response: unknown) => (error ? reject(error) : resolve(response)));
    }),
    close: () => client.close(),
  };
}

/** Unlimited receive size so tests of large messages see the server's limit, not the client's. */
const channelOptions: grpc.ChannelOptions = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };

export const tritonClient = (target: string) => wrap(new TritonService(target, grpc.credentials.createInsecure(), channelOptions));
export const oipClient = (target: string) => wrap(new OipService(target, grpc.credentials.createInsecure(), channelOptions));
export const healthClient = (target: string) => wrap(new HealthService(target, grpc.credentials.createInsecure()));

/** Asserts that `promise` fails with gRPC status `code` and a message matching `pattern`. */
export async function assertStatus(promise: Promise<unknown>, code: grpc.status, pattern?: RegExp): Promise<grpc.ServiceError> {
  const error = await promise.then(
    (value) => assert.fail(`expected status ${grpc.status[code]}, got a response: ${JSON.stringify(value)?.slice(0, 200)}`),
    (e: grpc.ServiceError) => e,
  );
  assert.equal(error.code, code, `expected ${grpc.status[code]}, got ${grpc.status[error.code]}: ${error.details}`);
  if (pattern) assert.match(error.details, pattern);
  return error;
}

/** Sends `requests` on one ModelStreamInfer call, half-closes, and collects every response. */
export function streamInfer(client: RpcClient, requests: unknown[]): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const call = client.raw.ModelStreamInfer();
    const responses: unknown[] = [];
    call.on('data', (r: unknown) => responses.push(r));
    call.on('error', reject);
    call.on('end', () => resolve(responses));
    for (const r of requests) call.write(r);
    call.end();
  });
}

export { grpc };

/** A real server and a Triton gRPC client of it; `close` closes the client, then the server, then removes the repository. */
export interface GrpcServed { server: TestServer; client: RpcClient; close: () => Promise<void> }

/** Serves a fresh repository of `models` (with `overrides` to the test server's options) and connects a Triton gRPC client. */
export async function serveWithGrpcClient(models: Record<string, ModelFiles>, overrides: Partial<ServeOptions> = {}): Promise<GrpcServed> {
  const repo = await makeRepository(models);
  const server = await startTestServer(repo.root, overrides);
  const client = tritonClient(server.grpcTarget);
  return {
    server, client,
    close: async () => {
      client.close();
      await server.close();
      await repo.cleanup();
    },
  };
}

/**
 * The values of one output of a ModelInferResponse, read from raw_output_contents (where Triton,
 * and Vireo, answer ModelInfer) by the output's datatype: little-endian, as the protocol says.
 */
export function rawOutputValues(response: { outputs: { name: string; datatype: string }[]; raw_output_contents: Buffer[] }, name: string): number[] {
  const index = response.outputs.findIndex((o) => o.name === name);
  const raw = response.raw_output_contents[index]!;
  const read: Record<string, [number, (offset: number) => number]> = {
    INT32: [4, (o) => raw.readInt32LE(o)], UINT32: [4, (o) => raw.readUInt32LE(o)], FP32: [4, (o) => raw.readFloatLE(o)],
    INT64: [8, (o) => Number(raw.readBigInt64LE(o))], UINT64: [8, (o) => Number(raw.readBigUInt64LE(o))], FP64: [8, (o) => raw.readDoubleLE(o)],
  };
  const [size, at] = read[response.outputs[index]!.datatype]!;
  return Array.from({ length: raw.length / size }, (_, i) => at(i * size));
}
