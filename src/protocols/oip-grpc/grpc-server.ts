/**
 * The gRPC listener: `inference.GRPCInferenceService` and `grpc.health.v1.Health` on one port.
 * Messages larger than `maxMessageSize` are refused by grpc-js with RESOURCE_EXHAUSTED before
 * they are decoded. close() refuses new calls, ends health watches, ends each inference stream
 * once its admitted requests are answered, and forces the rest closed after a grace period.
 */
import { Server } from '@grpc/grpc-js';
import type { TlsSource } from '../../core/tls-source.js';
import { grpcServerCredentials } from './grpc-tls.js';
import type { Logger } from '../../logging/logger.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { decodeErrorInterceptor, withCheckedDecoding } from './grpc-decode.js';
import { inferenceServiceDefinition } from './grpc-proto.js';
import { HealthService, healthServiceDefinition } from './health-service.js';
import type { StreamRegistry } from './infer-stream.js';
import { inferenceServiceHandlers, withUnimplemented } from './oip-grpc-service.js';

export const DEFAULT_GRPC_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

export interface GrpcServerOptions {
  server: InferenceServer;
  logger: Logger;
  /** 0 picks a free port. */
  port: number;
  address: string;
  /** Largest accepted request message in bytes (default 64 MiB). */
  maxMessageSize?: number;
  /** TLS (and mutual TLS) material, reloadable; absent: plaintext. */
  tls?: TlsSource;
  /** How long close() waits for open calls before cutting them (default 10 s). */
  shutdownGraceMs?: number;
}

export interface GrpcFrontend {
  /** The bound port. */
  port: number;
  /** `host:port`, the form gRPC clients (Triton's included) take. */
  url: string;
  close(): Promise<void>;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcFrontend> {
  const logger = options.logger.child({ component: 'grpc' });
  const maxMessageSize = options.maxMessageSize ?? DEFAULT_GRPC_MAX_MESSAGE_SIZE;
  const grpc = new Server({ 'grpc.max_receive_message_length': maxMessageSize, interceptors: [decodeErrorInterceptor] });
  const streams: StreamRegistry = new Set();
  const definition = withCheckedDecoding(inferenceServiceDefinition());
  grpc.addService(definition, withUnimplemented(definition, inferenceServiceHandlers({ server: options.server, logger, streams })));
  const health = new HealthService(options.server);
  grpc.addService(withCheckedDecoding(healthServiceDefinition), health.handlers());

  const host = options.address.includes(':') ? `[${options.address}]` : options.address;
  const port = await new Promise<number>((resolve, reject) => {
    grpc.bindAsync(`${host}:${options.port}`, grpcServerCredentials(options.tls), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  const url = `${host}:${port}`;

  return {
    port,
    url,
    async close() {
      health.close();
      for (const drain of [...streams]) drain();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn('gRPC calls still open after the grace period: closing them');
          grpc.forceShutdown();
          resolve();
        }, options.shutdownGraceMs ?? 10_000);
        grpc.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
