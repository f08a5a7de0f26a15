/** `vireo serve`: every option, its environment variable and default, then start and wait for a signal. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { startServer } from '../app/start-server.js';
import { createLogger } from '../logging/logger.js';
import { FORCED_EXIT_WAIT_SECONDS } from '../core/shutdown.js';

const env = (name: string) => `VIREO_${name.replace(/-/g, '_').toUpperCase()}`;

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

function bool(value: string): boolean {
  if (['true', '1', 'yes', 'on'].includes(value.toLowerCase())) return true;
  if (['false', '0', 'no', 'off'].includes(value.toLowerCase())) return false;
  throw new InvalidArgumentError('expected true or false');
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

/** Repeatable option; each value may also list several names separated by commas (environment). */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

function option(flags: string, description: string, name: string): Option {
  return new Option(flags, description).env(env(name));
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
    .addOption(option('--log-verbose <level>', 'log level: 0 info, 1 debug, 2+ trace', 'log-verbose').argParser(integer(0, 10)).default(0))
    .addOption(option('--log-format <format>', 'log format', 'log-format').choices(['json', 'pretty', 'auto']).default('auto'))
    .addOption(option('--disable-auto-complete-config', 'require complete model configurations instead of filling them from the model files', 'disable-auto-complete-config'))
    .addOption(option('--default-max-batch-size <n>', 'max_batch_size given to auto-completed models whose first dimension is dynamic', 'default-max-batch-size').argParser(integer(0, 1 << 20)).default(4))
    .addOption(option('--strict-readiness <bool>', 'ready only when every model is ready (false: once the initial load finished)', 'strict-readiness').argParser(bool).default(true))
    .addOption(option('--http-body-limit <bytes>', 'largest accepted HTTP request body', 'http-body-limit').argParser(integer(1024, 2 ** 31 - 1)).default(64 * 1024 * 1024))
    .addOption(option('--allow-metrics <bool>', 'serve Prometheus metrics on --metrics-port', 'allow-metrics').argParser(bool).default(true))
    .addOption(option('--metrics-port <port>', 'port of the Prometheus endpoint GET /metrics (-1 disables it, like --allow-metrics=false)', 'metrics-port').argParser(integer(-1, 65535)).default(8002))
    .addOption(option('--metrics-address <host>', 'address the metrics endpoint binds to (default: --http-address)', 'metrics-address'))
    .addOption(option('--trace-level <level>', 'initial trace level (OFF or TIMESTAMPS); POST /v2/trace/setting changes it', 'trace-level').choices(['OFF', 'TIMESTAMPS']).default('OFF'))
    .addOption(option('--trace-rate <n>', 'trace one in n requests (requests with a sampled traceparent are always traced)', 'trace-rate').argParser(integer(1, 2 ** 31 - 1)).default(1000))
    .addOption(option('--trace-count <n>', 'stop tracing after n traces (-1: never)', 'trace-count').argParser(integer(-1, 2 ** 31 - 1)).default(-1))
    .addOption(option('--allow-shared-memory <bool>', 'serve Triton\'s system shared-memory extension (regions under /dev/shm; loopback clients only unless --allow-remote-control)', 'allow-shared-memory').argParser(bool).default(false))
    .addOption(option('--allow-remote-control <bool>', 'accept control requests (model repository API, logging and trace settings) from non-loopback clients', 'allow-remote-control').argParser(bool).default(false))
    .addOption(option('--model-control-mode <mode>', 'none: load every model at start; poll: also follow repository changes; explicit: load what --load-model and the repository API ask for', 'model-control-mode').choices(['none', 'poll', 'explicit']).default('none'))
    .addOption(option('--repository-poll-secs <secs>', 'seconds between repository scans in poll mode', 'repository-poll-secs').argParser(positiveNumber).default(15))
    .addOption(option('--load-model <name>', 'model to load at start in explicit mode (repeatable; * = all)', 'load-model').argParser(collect))
    .addOption(option('--model-memory-budget <bytes>', 'load models on first use and unload the least recently used idle ones to stay within this many bytes', 'model-memory-budget').argParser(integer(1, Number.MAX_SAFE_INTEGER)))
    .addOption(option('--drain-timeout <secs>', 'on SIGTERM/SIGINT, exit (code 1) if requests are still running after this long', 'drain-timeout').argParser(positiveNumber).default(30))
    .action(async (opts) => {
      const level = opts.logVerbose >= 2 ? 'trace' : opts.logVerbose === 1 ? 'debug' : 'info';
      const logger = createLogger({ level, pretty: opts.logFormat === 'auto' ? undefined : opts.logFormat === 'pretty' });
      const running = await startServer({
        modelRepository: opts.modelRepository,
        httpPort: opts.httpPort,
        httpAddress: opts.httpAddress,
        logger,
        autoComplete: !opts.disableAutoCompleteConfig,
        defaultMaxBatchSize: opts.defaultMaxBatchSize,
        strictReadiness: opts.strictReadiness,
        bodyLimit: opts.httpBodyLimit,
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
      });
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
        running.close().then(() => process.exit(forcing ? 1 : 0), (error) => {
          logger.error({ err: error }, 'error during shutdown');
          process.exit(1);
        });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      await running.loaded;
      logger.info({ models: running.server.repositoryIndex() }, 'initial model load finished');
    });
}
