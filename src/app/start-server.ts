/**
 * The composition root: builds the repository, the facade and the frontends from options, starts
 * loading models and listening, and returns a handle that closes everything in order.
 */
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { createHttpApp } from '../protocols/http-common/http-server.js';
import { oipRoutes } from '../protocols/oip-http/oip-routes.js';
import { repositoryRoutes } from '../protocols/oip-http/repository-routes.js';
import { ModelRepository, type ModelControlMode } from '../repository/model-repository.js';
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
  /** Model lifecycle (docs/lifecycle.md); defaults: none, 15 s, [], false, no budget. */
  modelControlMode?: ModelControlMode;
  repositoryPollSecs?: number;
  loadModels?: string[];
  allowRemoteControl?: boolean;
  modelMemoryBudget?: number;
}

export interface RunningServer {
  server: InferenceServer;
  httpUrl: string | undefined;
  /** Resolves once the initial model load finished (the server may already answer health checks). */
  loaded: Promise<void>;
  close(): Promise<void>;
  /** Forced shutdown: queued requests get 503, only batches already running finish. */
  abort(): Promise<void>;
}

export const EXTENSIONS = ['model_configuration', 'statistics', 'schedule_policy'];
/** Reported only when the repository API is on (poll or explicit mode). */
export const REPOSITORY_EXTENSIONS = ['model_repository', 'model_repository(unload_dependents)'];

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const repository = new ModelRepository({
    root: resolve(options.modelRepository),
    logger: options.logger,
    autoComplete: options.autoComplete,
    defaultMaxBatchSize: options.defaultMaxBatchSize,
    controlMode: options.modelControlMode,
    pollSecs: options.repositoryPollSecs,
    startupModels: options.loadModels,
    memoryBudget: options.modelMemoryBudget,
  });
  const control = (options.modelControlMode ?? 'none') !== 'none';
  const server = new InferenceServer({
    repository, logger: options.logger, strictReadiness: options.strictReadiness,
    extensions: control ? [...EXTENSIONS, ...REPOSITORY_EXTENSIONS] : EXTENSIONS,
    allowRemoteControl: options.allowRemoteControl,
  });
  const loaded = repository.loadAll();

  let httpUrl: string | undefined;
  const http = options.httpPort >= 0 ? createHttpApp({ server, logger: options.logger, bodyLimit: options.bodyLimit }, [oipRoutes, repositoryRoutes]) : undefined;
  if (http) {
    await http.listen({ port: options.httpPort, host: options.httpAddress });
    const address = http.server.address() as AddressInfo;
    httpUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    options.logger.info({ url: httpUrl }, 'HTTP (OIP REST) listening');
  }

  return {
    server,
    httpUrl,
    loaded,
    async close() {
      // Readiness turns false and new requests get 503 at once; the listener stays open until
      // every admitted request is answered, so clients and load balancers see why.
      server.startDraining();
      await server.drained();
      await loaded.catch(() => undefined);
      await http?.close();
      await repository.close();
    },
    async abort() {
      server.startDraining();
      await repository.abort();
    },
  };
}
