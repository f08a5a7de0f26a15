/** `vireo serve`: every option, its environment variable and default, then start and wait for a signal. */
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_BATCH_LIMITS, startServer } from '../app/start-server.js';
import { createLogger } from '../logging/logger.js';
import { FORCED_EXIT_WAIT_SECONDS } from '../core/shutdown.js';
import { VireoError } from '../core/errors.js';
import type { TlsPaths } from '../core/tls-source.js';
import { readApiKeysFile, readSecretFile } from '../server/access-policy.js';
import { DEFAULT_BYTES_LIMITS } from '../core/bytes-limits.js';
import { DEFAULT_REQUEST_LIMITS } from '../core/request-limits.js';
import { DEFAULT_MODEL_DEFAULTS } from '../repository/model-defaults.js';
import { releaseYoungGeneration } from './startup-heap.js';
import { collect, env, integer, option } from './option-parsers.js';

function bool(value: string): boolean {
  if (['true', '1', 'yes', 'on'].includes(value.toLowerCase())) return true;
  if (['false', '0', 'no', 'off'].includes(value.toLowerCase())) return false;
  throw new InvalidArgumentError('expected true or false');
}

function queueSize(value: string): 'auto' | number {
  return value === 'auto' ? 'auto' : integer(0, 2 ** 31 - 1)(value);
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

/** The control token and API keys, from the options or their files; secrets are never logged. */
function credentials(opts: { controlToken?: string; controlTokenFile?: string; apiKeysFile?: string }): { controlToken?: string; apiKeys?: string[] } {
  try {
    if (opts.controlToken !== undefined && opts.controlTokenFile !== undefined) {
      throw new VireoError('VIREO_ERR_CONFIG_INVALID', 'give either --control-token or --control-token-file, not both');
    }
    const controlToken = opts.controlTokenFile !== undefined ? readSecretFile(opts.controlTokenFile, 'control token') : opts.controlToken;
    if (controlToken !== undefined && controlToken.trim() === '') throw new VireoError('VIREO_ERR_CONFIG_INVALID', 'the control token is empty');
    return { controlToken, apiKeys: opts.apiKeysFile !== undefined ? readApiKeysFile(opts.apiKeysFile) : undefined };
  } catch (error) {
    return startupFailure(error);
  }
}

function tlsPaths(opts: { tlsCert?: string; tlsKey?: string; tlsClientCa?: string }): TlsPaths | undefined {
  if (opts.tlsCert === undefined && opts.tlsKey === undefined) {
    if (opts.tlsClientCa !== undefined) startupFailure(new Error('--tls-client-ca needs --tls-cert and --tls-key'));
    return undefined;
  }
  if (opts.tlsCert === undefined || opts.tlsKey === undefined) startupFailure(new Error('give both --tls-cert and --tls-key'));
  return { certFile: opts.tlsCert!, keyFile: opts.tlsKey!, clientCaFile: opts.tlsClientCa };
}

/** A server that cannot start says why in one line on stderr and exits non-zero, before any port opens. */
function startupFailure(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`vireo serve: ${message.split('\n')[0]}\n`);
  process.exit(1);
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve every model of a model repository over HTTP (OIP REST) and gRPC (OIP gRPC)')
    .addOption(option('--model-repository <dir>', 'the model repository: <dir>/<model>/[config.yaml]/<version>/model.onnx', 'model-repository').makeOptionMandatory())
    .addOption(option('--http-port <port>', 'HTTP port for the OIP REST API (-1 disables it)', 'http-port').argParser(integer(-1, 65535)).default(8000))
    .addOption(option('--http-address <host>', 'address the HTTP server binds to', 'http-address').default('0.0.0.0'))
    .addOption(option('--grpc-port <port>', 'gRPC port for the OIP gRPC API (-1 disables it)', 'grpc-port').argParser(integer(-1, 65535)).default(8001))
    .addOption(option('--grpc-address <host>', 'address the gRPC server binds to (default: --http-address)', 'grpc-address'))
    .addOption(option('--grpc-max-message-size <bytes>', 'largest accepted gRPC message; larger ones get RESOURCE_EXHAUSTED', 'grpc-max-message-size').argParser(integer(1024, 2 ** 31 - 1)).default(64 * 1024 * 1024))
    .addOption(option('--max-bytes-elements <n>', 'BYTES elements one request may carry, all inputs together; more get RESOURCE_EXHAUSTED / 413', 'max-bytes-elements').argParser(integer(1, 2 ** 31 - 1)).default(DEFAULT_BYTES_LIMITS.maxElements))
    .addOption(option('--max-bytes-total <bytes>', 'bytes the BYTES elements of one request may hold together', 'max-bytes-total').argParser(integer(1, 2 ** 31 - 1)).default(DEFAULT_BYTES_LIMITS.maxTotalBytes))
    .addOption(option('--max-tensor-bytes <bytes>', 'bytes one numeric input tensor may take (elements x datatype size, checked from its shape before it is built); more get RESOURCE_EXHAUSTED / 413', 'max-tensor-bytes').argParser(integer(1, Number.MAX_SAFE_INTEGER)).default(DEFAULT_REQUEST_LIMITS.maxTensorBytes))
    .addOption(option('--max-tensor-bytes-total <bytes>', 'bytes the numeric input tensors of one request may take together', 'max-tensor-bytes-total').argParser(integer(1, Number.MAX_SAFE_INTEGER)).default(DEFAULT_REQUEST_LIMITS.maxRequestTensorBytes))
    .addOption(option('--max-request-inputs <n>', 'inputs one request may name', 'max-request-inputs').argParser(integer(1, 1 << 20)).default(DEFAULT_REQUEST_LIMITS.maxInputs))
    .addOption(option('--max-request-outputs <n>', 'outputs one request may ask for', 'max-request-outputs').argParser(integer(1, 1 << 20)).default(DEFAULT_REQUEST_LIMITS.maxOutputs))
    .addOption(option('--max-request-parameters <n>', 'parameters one request may carry: its own, its inputs\' and its outputs\' together', 'max-request-parameters').argParser(integer(1, 1 << 20)).default(DEFAULT_REQUEST_LIMITS.maxParameters))
    .addOption(option('--max-dataframe-rows <n>', 'rows of a CSV, Arrow or JSON records/columns request body', 'max-dataframe-rows').argParser(integer(1, 2 ** 31 - 1)).default(DEFAULT_REQUEST_LIMITS.maxDataframeRows))
    .addOption(option('--max-dataframe-columns <n>', 'columns of a CSV, Arrow or JSON records/columns request body', 'max-dataframe-columns').argParser(integer(1, 1 << 20)).default(DEFAULT_REQUEST_LIMITS.maxDataframeColumns))
    .addOption(option('--http-max-multipart-parts <n>', 'parts (files and fields) of a multipart/form-data upload; together they are bounded by --http-body-limit', 'http-max-multipart-parts').argParser(integer(1, 10_000)).default(DEFAULT_REQUEST_LIMITS.maxMultipartParts))
    .addOption(option('--log-verbose <level>', 'log level: 0 info, 1 debug, 2+ trace', 'log-verbose').argParser(integer(0, 10)).default(0))
    .addOption(option('--log-format <format>', 'log format', 'log-format').choices(['json', 'pretty', 'auto']).default('auto'))
    .addOption(option('--disable-auto-complete-config', 'require complete model configurations instead of filling them from the model files', 'disable-auto-complete-config'))
    .addOption(option('--default-max-batch-size <n>', 'max_batch_size given to auto-completed models whose first dimension is dynamic', 'default-max-batch-size').argParser(integer(0, 1 << 20)).default(4))
    .addOption(option('--strict-readiness <bool>', 'ready only when every model is ready (false: once the initial load finished)', 'strict-readiness').argParser(bool).default(true))
    .addOption(option('--http-body-limit <bytes>', 'largest accepted HTTP request body', 'http-body-limit').argParser(integer(1024, 2 ** 31 - 1)).default(64 * 1024 * 1024))
    .addOption(option('--request-timeout-ms <ms>', 'time a client has to send a whole HTTP request, headers and body, before it is answered 408 and closed (0: no bound)', 'request-timeout-ms').argParser(integer(0, 2 ** 31 - 1)).default(60_000))
    .addOption(option('--http-max-header-size <bytes>', 'largest HTTP request line plus headers; larger ones are answered 431', 'http-max-header-size').argParser(integer(1024, 1024 * 1024)).default(16 * 1024))
    .addOption(option('--http-max-json-depth <n>', 'deepest nesting of arrays and objects in a REST JSON body; deeper bodies are answered 413 before parsing', 'http-max-json-depth').argParser(integer(2, 10_000)).default(100))
    .addOption(option('--http-max-json-elements <n>', 'most values (array elements, object members) in one REST JSON body; more are answered 413 before parsing', 'http-max-json-elements').argParser(integer(16, 2 ** 31 - 1)).default(8 * 1024 * 1024))
    .addOption(option('--allow-metrics <bool>', 'serve Prometheus metrics on --metrics-port', 'allow-metrics').argParser(bool).default(true))
    .addOption(option('--metrics-port <port>', 'port of the Prometheus endpoint GET /metrics (-1 disables it, like --allow-metrics=false)', 'metrics-port').argParser(integer(-1, 65535)).default(8002))
    .addOption(option('--metrics-address <host>', 'address the metrics endpoint binds to (default: --http-address)', 'metrics-address'))
    .addOption(option('--trace-level <level>', 'initial trace level (OFF or TIMESTAMPS); POST /v2/trace/setting changes it', 'trace-level').choices(['OFF', 'TIMESTAMPS']).default('OFF'))
    .addOption(option('--trace-rate <n>', 'trace one in n requests (requests with a sampled traceparent are always traced)', 'trace-rate').argParser(integer(1, 2 ** 31 - 1)).default(1000))
    .addOption(option('--trace-count <n>', 'stop tracing after n traces (-1: never)', 'trace-count').argParser(integer(-1, 2 ** 31 - 1)).default(-1))
    .addOption(option('--allow-shared-memory <bool>', 'serve Triton\'s system shared-memory extension (regions under /dev/shm; loopback clients only unless --allow-remote-control)', 'allow-shared-memory').argParser(bool).default(false))
    .addOption(option('--allow-remote-control <bool>', 'accept control requests (model repository API, logging and trace settings) from non-loopback clients', 'allow-remote-control').argParser(bool).default(false))
    .addOption(option('--tls-cert <path>', 'PEM certificate (chain) for HTTPS and gRPC over TLS; with --tls-key; SIGHUP reloads it', 'tls-cert'))
    .addOption(option('--tls-key <path>', 'PEM private key of --tls-cert', 'tls-key'))
    .addOption(option('--tls-client-ca <path>', 'PEM CA bundle: clients must present a certificate it signed (mutual TLS)', 'tls-client-ca'))
    .addOption(option('--cors-origin <origin>', 'origin (scheme://host[:port]) browsers may call the REST APIs from (repeatable; default: none, CORS off)', 'cors-origin').argParser(collect))
    .addOption(option('--control-token <token>', 'bearer token required by every control operation (repository API, logging and trace settings), over REST and gRPC; replaces the loopback rule', 'control-token'))
    .addOption(option('--control-token-file <path>', 'file holding the control token (surrounding whitespace removed), e.g. a mounted Kubernetes secret', 'control-token-file'))
    .addOption(option('--api-keys-file <path>', 'file of inference API keys, one per line (# comments): inference and metadata then need Authorization: Bearer <key>', 'api-keys-file'))
    .addOption(option('--control-host <name>', 'Host name (besides localhost and loopback addresses) under which control operations are accepted without a token (repeatable)', 'control-host').argParser(collect))
    .addOption(option('--model-control-mode <mode>', 'none: load every model at start; poll: also follow repository changes; explicit: load what --load-model and the repository API ask for', 'model-control-mode').choices(['none', 'poll', 'explicit']).default('none'))
    .addOption(option('--repository-poll-secs <secs>', 'seconds between repository scans in poll mode', 'repository-poll-secs').argParser(positiveNumber).default(15))
    .addOption(option('--load-model <name>', 'model to load at start in explicit mode (repeatable; * = all)', 'load-model').argParser(collect))
    .addOption(option('--model-memory-budget <bytes>', 'load models on first use and unload the least recently used idle ones to stay within this many bytes', 'model-memory-budget').argParser(integer(1, Number.MAX_SAFE_INTEGER)))
    .addOption(option('--batch-dir <dir>', 'enable the batch API (/v1/files, /v1/batches) and keep its files and jobs in this directory', 'batch-dir'))
    .addOption(option('--batch-max-file-bytes <bytes>', 'largest batch input file', 'batch-max-file-bytes').argParser(integer(1, Number.MAX_SAFE_INTEGER)).default(DEFAULT_BATCH_LIMITS.maxFileBytes))
    .addOption(option('--batch-max-lines <n>', 'most requests in one batch input file', 'batch-max-lines').argParser(integer(1, 100_000_000)).default(DEFAULT_BATCH_LIMITS.maxLines))
    .addOption(option('--batch-max-jobs <n>', 'most batches in flight (not yet completed, failed, expired or cancelled)', 'batch-max-jobs').argParser(integer(1, 1_000_000)).default(DEFAULT_BATCH_LIMITS.maxJobs))
    .addOption(option('--batch-max-disk-bytes <bytes>', 'most bytes kept under --batch-dir (inputs, outputs, parts)', 'batch-max-disk-bytes').argParser(integer(1, Number.MAX_SAFE_INTEGER)).default(DEFAULT_BATCH_LIMITS.maxDiskBytes))
    .addOption(option('--batch-part-requests <n>', 'requests of a batch job committed together (a cancel or stop takes effect between parts)', 'batch-part-requests').argParser(integer(1, 1_000_000)).default(DEFAULT_BATCH_LIMITS.partRequests))
    .addOption(option('--handler-execute-timeout-ms <ms>', 'longest one batch of a typescript handler model may run when its config sets no parameters.execute_timeout_ms; its worker is then replaced (0: no bound)', 'handler-execute-timeout-ms').argParser(integer(0, 2 ** 31 - 1)).default(DEFAULT_MODEL_DEFAULTS.handlerExecuteTimeoutMs))
    .addOption(option('--handler-heap-limit-mb <mb>', 'JavaScript heap bound of a typescript handler model\'s worker when its config sets no parameters.max_heap_mb; past it the worker is replaced (0: V8\'s default)', 'handler-heap-limit-mb').argParser(integer(0, 1 << 20)).default(DEFAULT_MODEL_DEFAULTS.handlerHeapLimitMb))
    .addOption(option('--default-max-queue-size <n>', 'queue bound of models whose config sets no queue policy: auto (max(256, 16 x instances x max_batch_size)), a number, or 0 for unbounded', 'default-max-queue-size').argParser(queueSize).default('auto'))
    .addOption(option('--cache-config <spec>', 'response cache for models with response_cache.enable, as Triton: local,size=<bytes>', 'cache-config'))
    .addOption(option('--drain-timeout <secs>', 'on SIGTERM/SIGINT, exit (code 1) if requests are still running after this long', 'drain-timeout').argParser(positiveNumber).default(30))
    .action(async (opts) => {
      const level = opts.logVerbose >= 2 ? 'trace' : opts.logVerbose === 1 ? 'debug' : 'info';
      const logger = createLogger({ level, pretty: opts.logFormat === 'auto' ? undefined : opts.logFormat === 'pretty' });
      const running = await startServer({
        ...credentials(opts),
        tls: tlsPaths(opts),
        controlHosts: opts.controlHost ?? [],
        corsOrigins: opts.corsOrigin ?? [],
        modelRepository: opts.modelRepository,
        httpPort: opts.httpPort,
        httpAddress: opts.httpAddress,
        logger,
        autoComplete: !opts.disableAutoCompleteConfig,
        defaultMaxBatchSize: opts.defaultMaxBatchSize,
        strictReadiness: opts.strictReadiness,
        bodyLimit: opts.httpBodyLimit,
        requestTimeoutMs: opts.requestTimeoutMs,
        httpMaxHeaderSize: opts.httpMaxHeaderSize,
        httpMaxJsonDepth: opts.httpMaxJsonDepth,
        httpMaxJsonElements: opts.httpMaxJsonElements,
        grpcPort: opts.grpcPort,
        grpcAddress: opts.grpcAddress,
        grpcMaxMessageSize: opts.grpcMaxMessageSize,
        metricsPort: opts.allowMetrics ? opts.metricsPort : -1,
        metricsAddress: opts.metricsAddress,
        tracing: { level: opts.traceLevel, rate: opts.traceRate, count: opts.traceCount },
        allowRemoteControl: opts.allowRemoteControl,
        allowSharedMemory: opts.allowSharedMemory,
        modelControlMode: opts.modelControlMode,
        repositoryPollSecs: opts.repositoryPollSecs,
        loadModels: opts.loadModel ?? [],
        modelMemoryBudget: opts.modelMemoryBudget,
        batchDir: opts.batchDir,
        batchLimits: { maxFileBytes: opts.batchMaxFileBytes, maxLines: opts.batchMaxLines, maxJobs: opts.batchMaxJobs, maxDiskBytes: opts.batchMaxDiskBytes, partRequests: opts.batchPartRequests },
        bytesLimits: { maxElements: opts.maxBytesElements, maxTotalBytes: opts.maxBytesTotal },
        requestLimits: {
          maxTensorBytes: opts.maxTensorBytes, maxRequestTensorBytes: opts.maxTensorBytesTotal, maxInputs: opts.maxRequestInputs, maxOutputs: opts.maxRequestOutputs, maxParameters: opts.maxRequestParameters,
          maxDataframeRows: opts.maxDataframeRows, maxDataframeColumns: opts.maxDataframeColumns, maxMultipartParts: opts.httpMaxMultipartParts,
        },
        modelDefaults: { handlerExecuteTimeoutMs: opts.handlerExecuteTimeoutMs, handlerHeapLimitMb: opts.handlerHeapLimitMb, maxQueueSize: opts.defaultMaxQueueSize },
        cacheConfig: opts.cacheConfig,
      }).catch(startupFailure);
      let stopping = false;
      let forcing = false;
      // Forced exit: queued requests are answered 503 and only running batches finish (ending the
      // process inside an onnxruntime call aborts it); a last-resort timer bounds even that.
      const force = (why: string) => {
        if (forcing) return;
        forcing = true;
        logger.warn({ inflight: running.server.inflight }, why);
        setTimeout(() => process.exit(1), FORCED_EXIT_WAIT_SECONDS * 1000);
        running.abort().finally(() => setTimeout(() => process.exit(1), 100));
      };
      const stop = (signal: string) => {
        if (stopping) {
          force('second signal: exiting now');
          return;
        }
        stopping = true;
        logger.info({ signal, inflight: running.server.inflight, drainTimeoutSecs: opts.drainTimeout }, 'shutting down: draining requests');
        setTimeout(() => force('drain timeout: exiting with requests still running'), opts.drainTimeout * 1000).unref();
        const started = Date.now();
        running.close().then(() => {
          if (!forcing) logger.info({ drainMs: Date.now() - started }, 'drained: every admitted request answered; exiting');
          process.exit(forcing ? 1 : 0);
        }, (error) => {
          logger.error({ err: error }, 'error during shutdown');
          process.exit(1);
        });
      };
      // SIGHUP: new certificates for new connections (cert-manager rotates the mounted secret).
      process.on('SIGHUP', () => {
        running.reloadTls().then(
          () => logger.info({ tls: opts.tlsCert !== undefined }, opts.tlsCert !== undefined ? 'TLS certificate reloaded' : 'SIGHUP: nothing to reload (no TLS)'),
          (error: Error) => logger.error({ reason: error.message }, 'TLS reload failed: the previous certificate stays in use'),
        );
      });
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      await running.loaded.finally(releaseYoungGeneration);
      logger.info({ models: running.server.repositoryIndex() }, 'initial model load finished');
    });
}
