/**
 * The composition root: builds the repository, the facade and the frontends from options, starts
 * loading models and listening, and returns a handle that closes everything in order.
 */
import { availableParallelism } from 'node:os';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { setBytesLimits, type BytesLimits } from '../core/bytes-limits.js';
import { setRequestLimits, type RequestLimits } from '../core/request-limits.js';
import { cgroupCpuQuota, USABLE_CORES } from '../core/cpu-budget.js';
import { TlsSource, type TlsPaths } from '../core/tls-source.js';
import type { Logger } from '../logging/logger.js';
import { VireoMetrics } from '../metrics/vireo-metrics.js';
import { consoleRoutes } from '../protocols/console-http/console-routes.js';
import { createHttpApp } from '../protocols/http-common/http-server.js';
import { DEFAULT_JSON_LIMITS } from '../protocols/http-common/json-limits.js';
import { listenMetrics, type MetricsListener } from '../protocols/metrics-http/metrics-http-server.js';
import { startGrpcServer, type GrpcFrontend } from '../protocols/oip-grpc/grpc-server.js';
import { oipRoutes } from '../protocols/oip-http/oip-routes.js';
import { openBatchApi, type OpenBatchApi } from '../protocols/openai-batch/batch-api.js';
import { STOP_WAIT_MS } from '../protocols/openai-batch/batch-runner.js';
import { generateRoutes } from '../protocols/oip-http/generate-routes.js';
import { ResponseCache, parseCacheConfig } from '../scheduler/response-cache.js';
import { repositoryRoutes } from '../protocols/oip-http/repository-routes.js';
import { settingsRoutes } from '../protocols/oip-http/settings-routes.js';
import { sharedMemoryRoutes } from '../protocols/oip-http/shared-memory-routes.js';
import { v1Routes } from '../protocols/v1-http/v1-routes.js';
import type { ModelDefaults } from '../repository/model-defaults.js';
import { ModelRepository, type ModelControlMode } from '../repository/model-repository.js';
import { AccessPolicy } from '../server/access-policy.js';
import { InferenceServer } from '../server/inference-server.js';
import { VERSION } from '../server/version.js';
import { VireoTracer, type TracingOptions } from '../tracing/vireo-tracer.js';
import { checkControlExposure, checkRepositoryDirectory } from './startup-checks.js';
import { combineRecorders } from './version-recorders.js';

export interface ServeOptions {
  modelRepository: string;
  /** Triton's `--cache-config local,size=<bytes>`: the response cache models opt into. */
  cacheConfig?: string;
  /** 0 picks a free port; -1 disables the frontend. */
  httpPort: number;
  httpAddress: string;
  logger: Logger;
  autoComplete: boolean;
  defaultMaxBatchSize: number;
  strictReadiness: boolean;
  bodyLimit: number;
  /** Model lifecycle (docs/lifecycle.md); defaults: none, 15 s, [], no budget. */
  modelControlMode?: ModelControlMode;
  repositoryPollSecs?: number;
  loadModels?: string[];
  modelMemoryBudget?: number;
  /** OIP gRPC port: 0 picks a free port; -1 or absent disables the frontend (the CLI defaults to 8001). */
  grpcPort?: number;
  /** Default: httpAddress. */
  grpcAddress?: string;
  /** Largest accepted gRPC message in bytes (default 64 MiB). */
  grpcMaxMessageSize?: number;
  /** Prometheus endpoint port: 0 picks a free port; -1 or absent disables metrics altogether. */
  metricsPort?: number;
  /** Defaults to httpAddress. */
  metricsAddress?: string;
  /** Initial trace settings and an exporter override; the environment (OTEL_*) does the rest. */
  tracing?: Omit<TracingOptions, 'logger' | 'serviceVersion'>;
  /** Accept control requests (repository API, logging/trace settings) from non-loopback clients. */
  allowRemoteControl?: boolean;
  /** Bearer token every control call must carry (`--control-token[-file]`); replaces the loopback rule. */
  controlToken?: string;
  /** Inference API keys (`--api-keys-file`); absent or empty: inference is open. */
  apiKeys?: string[];
  /** Extra `Host` names control routes accept without a token (`--control-host`). */
  controlHosts?: string[];
  /** Time a client has to send a whole HTTP request, headers and body (default 60 s; 0: no bound). */
  requestTimeoutMs?: number;
  /** Largest HTTP request line plus headers in bytes (default 16 KiB). */
  httpMaxHeaderSize?: number;
  /** The OpenAI-style batch API (`/v1/files`, `/v1/batches`) keeps its files and jobs here; absent: no batch API. */
  batchDir?: string;
  batchLimits?: Partial<BatchLimits>;
  /** Bounds on BYTES tensors per request (core/bytes-limits.ts); process-wide. */
  bytesLimits?: Partial<BytesLimits>;
  /** Bounds on tensor bytes, inputs and outputs, dataframes and upload parts per request (core/request-limits.ts); process-wide. */
  requestLimits?: Partial<RequestLimits>;
  /** Handler execute timeout and queue bound for models whose configuration sets none. */
  modelDefaults?: Partial<ModelDefaults>;
  /** Deepest JSON nesting of a REST body (default 100, Triton's). */
  httpMaxJsonDepth?: number;
  /** Most values in one REST JSON body (default 8 Mi). */
  httpMaxJsonElements?: number;
  /** TLS for HTTP and gRPC (`--tls-cert`, `--tls-key`, `--tls-client-ca`); reloaded by reloadTls(). */
  tls?: TlsPaths;
  /** Origins browsers may call the REST APIs from (`--cors-origin`); default none: CORS off. */
  corsOrigins?: string[];
  /** Triton's system shared-memory extension (off by default, as in Triton's hardened defaults). */
  allowSharedMemory?: boolean;
}

export interface BatchLimits {
  maxFileBytes: number;
  maxLines: number;
  maxJobs: number;
  maxDiskBytes: number;
  /** Requests committed together; cancel and stop act between parts. */
  partRequests: number;
  /** How long a stop waits for the running job before closing its thread (no CLI flag). */
  stopWaitMs: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = {
  maxFileBytes: 200 * 1024 * 1024, maxLines: 50_000, maxJobs: 16, maxDiskBytes: 10 * 1024 ** 3, partRequests: 256, stopWaitMs: STOP_WAIT_MS,
};

export interface RunningServer {
  server: InferenceServer;
  httpUrl: string | undefined;
  /** `host:port` of the gRPC frontend, as gRPC clients take it. */
  grpcUrl: string | undefined;
  grpcPort: number | undefined;
  metricsUrl: string | undefined;
  /** Resolves once the initial model load finished (the server may already answer health checks). */
  loaded: Promise<void>;
  close(): Promise<void>;
  /** Forced shutdown: queued requests get 503, only batches already running finish. */
  abort(): Promise<void>;
  /** Reads the TLS files again (SIGHUP); new connections get the new certificate. No-op without TLS. */
  reloadTls(): Promise<void>;
}

export const EXTENSIONS = ['model_configuration', 'statistics', 'schedule_policy', 'binary_tensor_data', 'logging', 'trace', 'classification', 'sequence', 'sequence(string_id)', 'generate'];
/** Reported only when the repository API is on (poll or explicit mode). */
export const REPOSITORY_EXTENSIONS = ['model_repository', 'model_repository(unload_dependents)'];

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  // Refusals that need no port: a bad repository or an unauthenticated remote control API.
  await checkRepositoryDirectory(options.modelRepository);
  checkControlExposure(options);
  setBytesLimits(options.bytesLimits ?? {});
  setRequestLimits(options.requestLimits ?? {});
  const tls = options.tls ? await TlsSource.load(options.tls) : undefined;
  // Handler code calls other models through the facade, so batching and statistics apply to them.
  let facade: InferenceServer | undefined;
  const metricsOn = options.metricsPort !== undefined && options.metricsPort >= 0;
  const metrics = metricsOn ? new VireoMetrics() : undefined;
  const tracer = new VireoTracer({ ...options.tracing, logger: options.logger, serviceVersion: VERSION });
  const repository = new ModelRepository({
    root: resolve(options.modelRepository),
    logger: options.logger,
    autoComplete: options.autoComplete,
    defaultMaxBatchSize: options.defaultMaxBatchSize,
    controlMode: options.modelControlMode,
    pollSecs: options.repositoryPollSecs,
    startupModels: options.loadModels,
    memoryBudget: options.modelMemoryBudget,
    // With the batch API on, real-time sessions stop spinning after a run (repository/model-defaults.ts).
    modelDefaults: { spinBetweenRuns: options.batchDir === undefined, ...options.modelDefaults },
    recorderFor: (model, version) => combineRecorders([metrics?.recorderFor(model, version), tracer.recorderFor(model, version)]),
    callModel: (call) => facade!.callModel(call),
    responseCache: options.cacheConfig ? new ResponseCache(parseCacheConfig(options.cacheConfig).size) : undefined,
  });
  const control = (options.modelControlMode ?? 'none') !== 'none';
  const server = new InferenceServer({
    repository, logger: options.logger, strictReadiness: options.strictReadiness,
    extensions: [...(control ? [...EXTENSIONS, ...REPOSITORY_EXTENSIONS] : EXTENSIONS), ...(options.allowSharedMemory ? ['system_shared_memory'] : [])],
    tracer, traceSettings: tracer.settings, protocolRecorder: metrics,
    access: new AccessPolicy({
      controlMode: options.modelControlMode,
      controlToken: options.controlToken,
      apiKeys: options.apiKeys,
      allowRemoteControl: options.allowRemoteControl,
      controlHosts: options.controlHosts,
      corsOrigins: options.corsOrigins,
    }),
    allowSharedMemory: options.allowSharedMemory,
  });
  facade = server;
  metrics?.watch(() => repository.index({ served: true }));
  // Thread pools and spinning are sized by this; a container's CPU limit lowers it (core/cpu-budget.ts).
  options.logger.info({ cores: USABLE_CORES, cpus: availableParallelism(), cgroupCpuQuota: cgroupCpuQuota() ?? null }, 'CPU budget');
  const loaded = repository.loadAll();

  let metricsListener: MetricsListener | undefined;
  if (metrics) {
    metricsListener = await listenMetrics({ source: metrics, logger: options.logger, port: options.metricsPort!, host: options.metricsAddress ?? options.httpAddress });
    options.logger.info({ url: `${metricsListener.url}/metrics` }, 'metrics (Prometheus) listening');
  }

  let batchApi: OpenBatchApi | undefined;
  if (options.batchDir !== undefined && options.httpPort >= 0) {
    const limits = { ...DEFAULT_BATCH_LIMITS, ...options.batchLimits };
    batchApi = await openBatchApi({
      server, logger: options.logger, dir: resolve(options.batchDir), ...limits,
    });
    metrics?.watchBatches(batchApi.snapshot);
    // Jobs resume once the models they need had their chance to load.
    void loaded.catch(() => undefined).then(() => batchApi!.start());
  }

  let httpUrl: string | undefined;
  const http = options.httpPort >= 0
    ? createHttpApp({ server, logger: options.logger, bodyLimit: options.bodyLimit, requestTimeoutMs: options.requestTimeoutMs, maxHeaderSize: options.httpMaxHeaderSize,
      tls,
      corsOrigins: options.corsOrigins,
      jsonLimits: { maxDepth: options.httpMaxJsonDepth ?? DEFAULT_JSON_LIMITS.maxDepth, maxElements: options.httpMaxJsonElements ?? DEFAULT_JSON_LIMITS.maxElements } }, 
      [oipRoutes, generateRoutes, v1Routes, settingsRoutes, repositoryRoutes, sharedMemoryRoutes, ...(batchApi ? [batchApi.routes] : []),
        consoleRoutes(metrics && (() => metrics.text()))])
    : undefined;
  if (http) {
    await http.listen({ port: options.httpPort, host: options.httpAddress }).catch(async (error: unknown) => {
      await metricsListener?.close();
      throw error;
    });
    const address = http.server.address() as AddressInfo;
    httpUrl = `${tls ? 'https' : 'http'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
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
        tls,
      });
    } catch (error) {
      await http?.close();
      await metricsListener?.close();
      await loaded.catch(() => undefined);
      await repository.close();
      await metricsListener?.close();
      throw error;
    }
    options.logger.info({ url: grpc.url }, 'gRPC (OIP) listening');
  }

  return {
    server,
    httpUrl,
    grpcUrl: grpc?.url,
    grpcPort: grpc?.port,
    metricsUrl: metricsListener?.url,
    loaded,
    async close() {
      // Readiness turns false and new requests get 503 at once; the listener stays open until
      // every admitted request is answered, so clients and load balancers see why.
      server.startDraining();
      // A batch job stops at once; the part it was running is not committed and runs after a restart.
      // The schedulers close only once every admitted request is answered: an ensemble's next step
      // and a handler's BLS call are new requests to another model on behalf of an admitted one, and a
      // closed scheduler refuses them (the ensemble request then failed with 503 mid-way). Meanwhile
      // they run what they hold at once, not after its batching delay (max_queue_delay may be long).
      repository.flush();
      await Promise.all([server.drained(), batchApi?.close()]);
      await repository.drain();
      await loaded.catch(() => undefined);
      // gRPC streams end once their admitted requests are answered, which the repository's drain
      // guarantees, so gRPC closes alongside it rather than before it.
      await Promise.all([grpc?.close(), (async () => {
        await http?.close();
        await repository.close();
      })()]);
      await metricsListener?.close();
      await tracer.shutdown();
    },
    async abort() {
      server.startDraining();
      void batchApi?.close();
      await repository.abort();
    },
    async reloadTls() {
      await tls?.reload();
    },
  };
}
