/**
 * `vireo batch`: run one model of a model repository over files, in-process (no HTTP), resumable and
 * shardable. Every option can also come from an environment variable (VIREO_ + the option name in
 * upper snake case), as for `vireo serve`; Kubernetes' JOB_COMPLETION_INDEX selects the shard.
 */
import { constants } from 'node:buffer';
import { Command, InvalidArgumentError } from 'commander';
import { runBatch } from '../app/run-batch.js';
import { INPUT_FORMATS } from '../batch/input-plan.js';
import { OUTPUT_FORMATS } from '../batch/result-encoders.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../codecs/read-bounds.js';
import { VireoError } from '../core/errors.js';
import { createLogger } from '../logging/logger.js';
import { BATCH_PERMANENT_EXIT_CODE } from '../packaging/k8s/batch-job-manifest.js';
import { batchProgress } from './batch-progress.js';
import { collect, collectLines, env, integer, option } from './option-parsers.js';
import { growHeapForBatchJob } from './startup-heap.js';

/** Statuses of errors a rerun would meet again (input, options, model name, too many bad rows). */
const PERMANENT = new Set(['INVALID_ARGUMENT', 'NOT_FOUND', 'RESOURCE_EXHAUSTED']);

/** `--instances`: auto, config, or a count from 1 to 64. */
export function parseInstances(value: string): number | 'auto' | 'config' {
  const text = value.trim();
  if (text === 'auto' || text === 'config') return text;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 64) throw new InvalidArgumentError('expected auto, config or a count from 1 to 64');
  return Number(text);
}

/** `i/N` with 0 ≤ i < N. */
export function parseShard(value: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index >= count) throw new InvalidArgumentError('expected i/N with 0 ≤ i < N (e.g. 0/4)');
  return { index, count };
}

/** --shard wins; else JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) with --shard-count. */
export function shardOf(opts: { shard?: { index: number; count: number }; shardCount?: number }, environment: NodeJS.ProcessEnv = process.env): { index: number; count: number } {
  if (opts.shard) return opts.shard;
  const index = environment.JOB_COMPLETION_INDEX;
  if (index === undefined || index === '') return { index: 0, count: 1 };
  const count = opts.shardCount;
  if (count === undefined) throw new InvalidArgumentError(`JOB_COMPLETION_INDEX is set (${index}) but the shard count is not: give --shard-count (VIREO_SHARD_COUNT)`);
  // Named as the environment gave it: "i/N" would point at --shard, which the user did not give.
  if (!/^\d+$/.test(index.trim()) || Number(index) >= count) throw new InvalidArgumentError(`JOB_COMPLETION_INDEX ${index} is not a shard of --shard-count ${count} (VIREO_SHARD_COUNT): expected an integer from 0 to ${count - 1}`);
  return { index: Number(index), count };
}

export function batchCommand(): Command {
  return new Command('batch')
    .description('run a model over files (JSONL, CSV, Parquet, Arrow IPC, folders of images) in-process: full batches, resumable parts, shardable')
    .addOption(option('--model-repository <dir>', 'the model repository (as for vireo serve)', 'model-repository').makeOptionMandatory())
    .addOption(option('--model <name>', 'the model to run', 'model').makeOptionMandatory())
    .addOption(option('--version <v>', 'model version (default: the highest ready one)', 'model-version'))
    .addOption(option('--input <path>', 'input file, folder or glob (repeatable; in VIREO_INPUT one per line; a comma is part of the path): .jsonl (OpenAI batch or OIP lines), .csv, .parquet, .arrow, or images', 'input').argParser(collectLines).makeOptionMandatory())
    .addOption(option('--output <dir>', 'output folder: parts/, job.json, summary.json', 'output').makeOptionMandatory())
    .addOption(option('--input-format <format>', 'format of every input (default: from the extension)', 'input-format').choices([...INPUT_FORMATS]))
    .addOption(option('--output-format <format>', 'format of the results (default: jsonl for JSONL and images, else the input\'s)', 'output-format').choices([...OUTPUT_FORMATS]))
    .addOption(option('--batch-size <n>', 'rows per batch (default: the model\'s max_batch_size)', 'batch-size').argParser(integer(1, 1 << 20)))
    .addOption(option('--part-rows <n>', 'rows per output part, the unit of commit and resumption (rounded up to whole batches; default: the part size the job in --output began with, else 1024, or 16 batches where that is more)', 'part-rows').argParser(integer(1, 1 << 24)))
    .addOption(option('--block-size <bytes>', 'bytes per block of a JSONL or CSV file, the unit of sharding within a file', 'block-size').argParser(integer(1024, 2 ** 40)).default(64 * 1024 * 1024))
    .addOption(option('--shard <i/N>', 'run only shard i of N (0-based); default: JOB_COMPLETION_INDEX of N = --shard-count, else 0/1', 'shard').argParser(parseShard))
    .addOption(option('--shard-count <n>', 'number of shards when the index comes from JOB_COMPLETION_INDEX (Kubernetes Indexed Job)', 'shard-count').argParser(integer(1, 1 << 20)))
    .addOption(option('--max-errors <n>', 'stop with an error once more rows than this failed (-1: never)', 'max-errors').argParser(integer(-1, Number.MAX_SAFE_INTEGER)).default(-1))
    .addOption(option('--id-column <name>', 'dataframe column carried to the output beside the results (and used as custom_id in JSONL output)', 'id-column'))
    .addOption(option('--restart', 'start over: discard what this job wrote in the output folder (its parts, job.json when another job\'s; never other files) instead of resuming or refusing', 'restart'))
    .addOption(option('--instances <n>', 'instances of the model for the job: auto (one single-threaded instance per core), config (its instance_group), or a count', 'instances').argParser(parseInstances).default('auto'))
    .addOption(option('--max-inflight <n>', 'batches in flight at once (default: the model\'s instances + 1)', 'max-inflight').argParser(integer(1, 1024)))
    .addOption(option('--max-file-bytes <bytes>', 'largest image, file or input line one row may read', 'max-file-bytes').argParser(integer(1, 2 ** 31 - 1)).default(64 * 1024 * 1024))
    // Up to the largest buffer node allocates: an Arrow message is read into one.
    .addOption(option('--max-message-bytes <bytes>', 'largest block of a columnar input read whole: one Arrow record batch (message with its metadata) or one Parquet row group (compressed and decoded bytes, rows × columns at 4 bytes a cell); checked from the sizes the file declares before it is read', 'max-message-bytes').argParser(integer(1, constants.MAX_LENGTH)).default(DEFAULT_MAX_MESSAGE_BYTES))
    .addOption(option('--load-model <name>', 'also load this model (repeatable; the ones a handler calls); default: the job\'s model with its ensemble steps, or every model of the repository when a handler is among them', 'load-model').argParser(collect))
    .addOption(option('--metrics-port <port>', 'serve the job\'s Prometheus metrics on GET /metrics while it runs (-1: off, 0: any port)', 'metrics-port').argParser(integer(-1, 65535)).default(-1))
    .addOption(option('--metrics-address <host>', 'address the metrics endpoint binds to', 'metrics-address').default('127.0.0.1'))
    .addOption(option('--progress <mode>', 'bar (a terminal), log (a structured line every --progress-interval), none; auto: bar on a terminal, else log', 'progress').choices(['auto', 'bar', 'log', 'none']).default('auto'))
    .addOption(option('--progress-interval <secs>', 'seconds between progress log lines', 'progress-interval').argParser(integer(1, 3600)).default(10))
    .addOption(option('--disable-auto-complete-config', 'require complete model configurations', 'disable-auto-complete-config'))
    .addOption(option('--default-max-batch-size <n>', 'max_batch_size given to auto-completed models whose first dimension is dynamic', 'default-max-batch-size').argParser(integer(0, 1 << 20)).default(4))
    .addOption(option('--log-verbose <level>', 'log level: 0 info, 1 debug, 2+ trace', 'log-verbose').argParser(integer(0, 10)).default(0))
    .addOption(option('--log-format <format>', 'log format', 'log-format').choices(['json', 'pretty', 'auto']).default('auto'))
    .addHelpText('after', `
Output: <output>/parts/<part>.<format> (+ .errors.jsonl, + .manifest.json, the commit marker),
<output>/job.json (what the parts belong to) and <output>/summary.json (summary-<i>-of-<N>.json per shard).
Parts are named in input order; their concatenation in name order is the whole result.
Killed at any moment, the same command resumes after the last committed part.

Examples:
  vireo batch --model-repository models --model tabular --input data.csv --output out/
  vireo batch --model-repository models --model ocr --input 'scans/**/*.png' --output out/ --shard 0/4
  JOB_COMPLETION_INDEX=2 VIREO_SHARD_COUNT=8 vireo batch --model-repository /models --model m --input /data --output /out`)
    .action(async (opts, command: Command) => {
      // A shard the environment gets wrong is a usage error, like a bad --shard: one line, before anything starts.
      let shard: { index: number; count: number };
      try {
        shard = shardOf(opts);
      } catch (error) {
        if (error instanceof InvalidArgumentError) command.error(`error: ${error.message}`, { code: 'commander.invalidArgument' });
        throw error;
      }
      growHeapForBatchJob();
      const level = opts.logVerbose >= 2 ? 'trace' : opts.logVerbose === 1 ? 'debug' : 'info';
      // Logs go to stderr: stdout carries the summary.
      const logger = createLogger({ level, pretty: opts.logFormat === 'auto' ? Boolean(process.stderr.isTTY) : opts.logFormat === 'pretty', destination: 2 });
      const mode = opts.progress === 'auto' ? (process.stderr.isTTY ? 'bar' : 'log') : opts.progress;
      const progress = batchProgress(mode, { logger, intervalSeconds: opts.progressInterval, shard });
      const abort = new AbortController();
      let signals = 0;
      const stop = (signal: string) => {
        if (++signals > 1) process.exit(130);
        logger.warn({ signal }, 'stopping after the part in progress is committed (again: exit now)');
        abort.abort();
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      try {
        const summary = await runBatch({
          modelRepository: opts.modelRepository,
          model: opts.model,
          version: opts.version,
          inputs: opts.input,
          output: opts.output,
          inputFormat: opts.inputFormat,
          outputFormat: opts.outputFormat,
          batchSize: opts.batchSize,
          partRows: opts.partRows,
          blockBytes: opts.blockSize,
          shard,
          maxErrors: opts.maxErrors,
          idColumn: opts.idColumn,
          restart: Boolean(opts.restart),
          maxInflight: opts.maxInflight,
          instances: opts.instances,
          maxFileBytes: opts.maxFileBytes,
          maxMessageBytes: opts.maxMessageBytes,
          loadModels: opts.loadModel,
          autoComplete: !opts.disableAutoCompleteConfig,
          defaultMaxBatchSize: opts.defaultMaxBatchSize,
          metricsPort: opts.metricsPort,
          metricsAddress: opts.metricsAddress,
          onMetricsUrl: (url) => logger.info({ url }, 'batch job metrics (Prometheus) listening'),
          logger,
          observer: progress.observer,
          signal: abort.signal,
        });
        progress.stop();
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } catch (error) {
        progress.stop();
        if (!(error instanceof VireoError)) throw error;
        process.stderr.write(`vireo batch: ${error.message} (${error.code})\n`);
        // 3: retrying cannot help (a Kubernetes podFailurePolicy fails the shard at once); 143: stopped by a signal.
        process.exitCode = error.code === 'VIREO_ERR_REQUEST_CANCELLED' ? 143 : PERMANENT.has(error.status) ? BATCH_PERMANENT_EXIT_CODE : 1;
      }
    });
}
