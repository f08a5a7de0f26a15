/** `vireo serve`: every option, its environment variable and default, then start and wait for a signal. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { startServer } from '../app/start-server.js';
import { createLogger } from '../logging/logger.js';

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
    .addOption(option('--metrics-port <port>', 'port of the Prometheus endpoint GET /metrics', 'metrics-port').argParser(integer(0, 65535)).default(8002))
    .addOption(option('--metrics-address <host>', 'address the metrics endpoint binds to (default: --http-address)', 'metrics-address'))
    .addOption(option('--trace-level <level>', 'initial trace level (OFF or TIMESTAMPS); POST /v2/trace/setting changes it', 'trace-level').choices(['OFF', 'TIMESTAMPS']).default('OFF'))
    .addOption(option('--trace-rate <n>', 'trace one in n requests (requests with a sampled traceparent are always traced)', 'trace-rate').argParser(integer(1, 2 ** 31 - 1)).default(1000))
    .addOption(option('--trace-count <n>', 'stop tracing after n traces (-1: never)', 'trace-count').argParser(integer(-1, 2 ** 31 - 1)).default(-1))
    .addOption(option('--allow-remote-control <bool>', 'accept logging and trace settings changes from non-loopback clients', 'allow-remote-control').argParser(bool).default(false))
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
      });
      await running.loaded;
      logger.info({ models: running.server.repositoryIndex() }, 'initial model load finished');
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) {
          logger.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        stopping = true;
        logger.info({ signal }, 'shutting down: draining requests');
        running.close().then(() => process.exit(0), (error) => {
          logger.error({ err: error }, 'error during shutdown');
          process.exit(1);
        });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
