/**
 * `vireo bench`: perf_analyzer's job, shipped — load a model over HTTP or gRPC at each level of a
 * concurrency or request-rate range, print throughput, latency percentiles, errors and the
 * server's own split (statistics extension) per level, and write results and a chart.
 */
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { chartHtml, chartSvg, stepLine, table, toCsv } from '../perf/bench-report.js';
import { runBench, type BenchOptions } from '../perf/bench-runner.js';
import { LoadRangeError, parseLoadRange } from '../perf/load-range.js';
import { progressLine } from './progress-line.js';
import { integer } from './option-parsers.js';

function range(what: string) {
  return (value: string): number[] => {
    try {
      return parseLoadRange(value, what);
    } catch (error) {
      if (error instanceof LoadRangeError) throw new InvalidArgumentError(error.message);
      throw error;
    }
  };
}

/** `NAME:d1,d2` (repeatable): the dims of a variable-size input, without the batch dimension. */
function shape(value: string, previous: Record<string, number[]> = {}): Record<string, number[]> {
  const at = value.lastIndexOf(':');
  const dims = value.slice(at + 1).split(',').map(Number);
  if (at <= 0 || dims.some((d) => !Number.isInteger(d) || d < 0)) throw new InvalidArgumentError(`expected NAME:d1,d2,… with non-negative integer dims, got "${value}"`);
  return { ...previous, [value.slice(0, at)]: dims };
}

export function benchCommand(): Command {
  return new Command('bench')
    .description("measure a model's throughput and latency under load (perf_analyzer's job), against Vireo or Triton")
    .requiredOption('-m, --model-name <name>', 'the model to load')
    .option('-x, --model-version <version>', 'the version (default: the server picks)')
    .option('-u, --url <url>', 'server: http://host:port for HTTP, host:port for gRPC (default: localhost:8000 / localhost:8001)')
    .addOption(new Option('-i, --protocol <protocol>', 'wire protocol').choices(['http', 'grpc']).default('http'))
    .option('--binary', 'HTTP: send tensors with the binary tensor data extension (default)')
    .option('--json', 'HTTP: send tensors as JSON')
    .option('-b, --batch-size <n>', 'rows per request for models that batch', integer(1, 1 << 16), 1)
    .option('--concurrency-range <start:end:step>', 'outstanding requests per step; step +N adds, xN multiplies (default 1:8:x2)', range('--concurrency-range'))
    .option('--request-rate-range <start:end:step>', 'requests per second per step, sent on a schedule (open loop) instead of a concurrency', range('--request-rate-range'))
    .addOption(new Option('--request-distribution <kind>', 'request-rate arrivals').choices(['constant', 'poisson']).default('constant'))
    .option('--input-data <random|zero|FILE>', 'input values: random, zero, or a JSON file ({"data": [{"INPUT0": [...]}]} or an OIP request)', 'random')
    .option('--shape <NAME:d1,d2>', 'dims of a variable-size input, without the batch dimension (repeatable)', shape, {})
    .option('-p, --measurement-interval <ms>', 'length of one measurement window', integer(50, 3_600_000), 2000)
    .option('-s, --stability-percentage <pct>', 'windows agree when within this percentage of their mean', integer(1, 100), 10)
    .option('-r, --max-trials <n>', 'most windows per step before it is reported as not stable', integer(3, 1000), 10)
    .option('--max-inflight <n>', 'request-rate mode: most requests outstanding at once', integer(1, 100_000), 256)
    .option('--percentile <p>', 'also report this latency percentile (perf_analyzer: --percentile)', integer(1, 99), 99)
    .option('-f, --output <file>', 'write the results: .json or .csv')
    .option('--chart <file>', 'write a chart of throughput and latency against load: .svg or .html')
    .option('-q, --quiet', 'no progress line')
    .action(async (opts) => {
      if (opts.concurrencyRange && opts.requestRateRange) throw new InvalidArgumentError('give --concurrency-range or --request-rate-range, not both');
      if (opts.binary && opts.json) throw new InvalidArgumentError('give --binary or --json, not both');
      for (const [flag, file] of [['--output', opts.output], ['--chart', opts.chart]] as const) {
        const ok = flag === '--output' ? /\.(json|csv)$/i : /\.(svg|html?)$/i;
        if (file && !ok.test(file)) throw new InvalidArgumentError(`${flag} ${file}: expected ${flag === '--output' ? '.json or .csv' : '.svg or .html'}`);
      }
      const protocol = opts.protocol as BenchOptions['protocol'];
      const url = opts.url ?? (protocol === 'grpc' ? 'localhost:8001' : 'http://localhost:8000');
      const progress = progressLine(process.stderr, !opts.quiet);
      const options: BenchOptions = {
        model: opts.modelName, version: opts.modelVersion, url, protocol, binary: !opts.json,
        mode: opts.requestRateRange ? 'request-rate' : 'concurrency',
        levels: opts.requestRateRange ?? opts.concurrencyRange ?? parseLoadRange('1:8:x2', 'default'),
        arrivals: opts.requestDistribution, data: ['random', 'zero'].includes(opts.inputData) ? opts.inputData : { file: opts.inputData },
        shapes: opts.shape, batchSize: opts.batchSize, windowMs: opts.measurementInterval, stabilityPercent: opts.stabilityPercentage,
        maxWindows: opts.maxTrials, maxInflight: opts.maxInflight, percentile: opts.percentile,
        onProgress: (event) => {
          if (event.kind === 'window') {
            const load = options.mode === 'concurrency' ? `concurrency ${event.level}` : `${event.level} req/s`;
            progress.update(`${load}: window ${event.window}/${options.maxWindows}, ${event.throughput.toFixed(1)} infer/s, p99 ${event.p99.toFixed(2)} ms`);
          } else {
            progress.done(stepLine(event.step, opts.percentile));
          }
        },
      };
      process.stderr.write(`vireo bench: ${opts.modelName} at ${url} (${protocol}${protocol === 'http' ? (options.binary ? ', binary' : ', json') : ''}), ${options.levels.length} steps of ${opts.measurementInterval} ms windows\n`);
      let current;
      try {
        current = await runBench(options);
      } catch (error) {
        progress.done('');
        process.stderr.write(`vireo bench: ${(error as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${table(current)}\n`);
      if (opts.output) writeFileSync(opts.output, /\.csv$/i.test(opts.output) ? toCsv(current) : `${JSON.stringify(current, null, 2)}\n`);
      if (opts.chart) writeFileSync(opts.chart, /\.svg$/i.test(opts.chart) ? chartSvg(current) : chartHtml(current));
      const failed = current.steps.every((s) => s.requests === 0);
      if (failed) {
        process.stderr.write(`no request succeeded${current.steps[0]?.firstError ? `: ${current.steps[0].firstError}` : ''}\n`);
        process.exitCode = 1;
      }
    });
}
