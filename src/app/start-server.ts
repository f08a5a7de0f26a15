/**
 * The composition root: builds the repository, the facade and the frontends from options, starts
 * loading models and listening, and returns a handle that closes everything in order.
 */
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { createHttpApp } from '../protocols/http-common/http-server.js';
import { startGrpcServer, type GrpcFrontend } from '../protocols/oip-grpc/grpc-server.js';
import { oipRoutes } from '../protocols/oip-http/oip-routes.js';
import { v1Routes } from '../protocols/v1-http/v1-routes.js';
import { ModelRepository } from '../repository/model-repository.js';
import { InferenceServer } from '../server/inference-server.js';

export interface ServeOptions {
  modelRepository: string;
  /** 0 picks a free port; -1 disables the frontend. */
  httpPort: number;
  httpAddress: string;
  logger: Logger;
  autoComplete: boolean;
  defaultMaxBatchSize: number;
  strictReadiness: boolean;
  bodyLimit: number;
  /** OIP gRPC port: 0 picks a free port; -1 or absent disables the frontend (the CLI defaults to 8001). */
  grpcPort?: number;
  /** Default: httpAddress. */
  grpcAddress?: string;
  /** Largest accepted gRPC message in bytes (default 64 MiB). */
  grpcMaxMessageSize?: number;
}

export interface RunningServer {
  server: InferenceServer;
  httpUrl: string | undefined;
  /** `host:port` of the gRPC frontend, as gRPC clients take it. */
  grpcUrl: string | undefined;
  grpcPort: number | undefined;
  /** Resolves once the initial model load finished (the server may already answer health checks). */
  loaded: Promise<void>;
  close(): Promise<void>;
}

export const EXTENSIONS = ['model_configuration', 'statistics', 'schedule_policy', 'binary_tensor_data'];

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const repository = new ModelRepository({
    root: resolve(options.modelRepository),
    logger: options.logger,
    autoComplete: options.autoComplete,
    defaultMaxBatchSize: options.defaultMaxBatchSize,
  });
  const server = new InferenceServer({ repository, logger: options.logger, extensions: EXTENSIONS, strictReadiness: options.strictReadiness });
  const loaded = repository.loadAll();

  let httpUrl: string | undefined;
  const http = options.httpPort >= 0 ? createHttpApp({ server, logger: options.logger, bodyLimit: options.bodyLimit }, [oipRoutes, v1Routes]) : undefined;
  if (http) {
    await http.listen({ port: options.httpPort, host: options.httpAddress });
    const address = http.server.address() as AddressInfo;
    httpUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    options.logger.info({ url: httpUrl }, 'HTTP (OIP and V1 REST) listening');
  }

  let grpc: GrpcFrontend | undefined;
  if (options.grpcPort !== undefined && options.grpcPort >= 0) {
    try {
      grpc = await startGrpcServer({
        server,
        logger: options.logger,
        port: options.grpcPort,
        address: options.grpcAddress ?? options.httpAddress,
        maxMessageSize: options.grpcMaxMessageSize,
      });
    } catch (error) {
      await http?.close();
      await loaded.catch(() => undefined);
      await repository.close();
      throw error;
    }
    options.logger.info({ url: grpc.url }, 'gRPC (OIP) listening');
  }

  return {
    server,
    httpUrl,
    grpcUrl: grpc?.url,
    grpcPort: grpc?.port,
    loaded,
    async close() {
      server.startDraining();
      await loaded.catch(() => undefined);
      // gRPC streams end once their admitted requests are answered, which the repository's drain
      // guarantees, so gRPC closes alongside it rather than before it.
      await Promise.all([grpc?.close(), (async () => {
        await http?.close();
        await repository.close();
      })()]);
    },
  };
}
