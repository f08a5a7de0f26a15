/**
 * `vireo tune` (Model Analyzer's job): sweep instance count × max_batch_size × max_queue_delay
 * (and adaptive batching) by serving the model with each candidate and measuring it with
 * `vireo bench`; print the frontier and the best configuration that meets the p99 SLO, and write
 * it into the model's config file only with --write.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { USABLE_CORES } from '../core/cpu-budget.js';
import { candidateLabel } from '../perf/tune-candidates.js';
import { bestSnippet, tuneChart, tuneTable, writeBest } from '../perf/tune-report.js';
import { runTune, type TuneOptions } from '../perf/tune-runner.js';
import { bar, progressLine } from './progress-line.js';

function list(min: number) {
  return (value: string): number[] => {
    const values = value.split(',').map((v) => Number(v.trim()));
    if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < min)) throw new InvalidArgumentError(`expected a comma-separated list of integers ≥ ${min}`);
    return values;
  };
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

const minutes = (ms: number) => (ms < 90_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 60_000).toFixed(1)} min`);

export function tuneCommand(): Command {
  const defaultInstances = [...new Set([1, Math.min(2, USABLE_CORES)])].join(',');
  return new Command('tune')
    .description("find the model configuration with the most throughput within a p99 latency SLO on this machine (Model Analyzer's job)")
    .requiredOption('-m, --model-name <name>', 'the model to tune')
    .option('--model-repository <dir>', 'the model repository holding it', 'examples/models')
    .option('--slo-p99-ms <ms>', 'p99 latency the best configuration must meet (also the target of adaptive candidates)', positive)
    .option('--concurrency <n>', 'measure each candidate at this many outstanding requests (default 8)', positive)
    .option('--request-rate <r>', 'measure each candidate at this many requests per second instead', positive)
    .option('--instance-counts <list>', 'instance counts to try', list(1), defaultInstances.split(',').map(Number))
    .option('--max-batch-sizes <list>', 'max_batch_size values to try (models that do not batch keep 0)', list(1), [1, 8, 32])
    .option('--max-queue-delays-us <list>', 'max_queue_delay_microseconds values to try', list(0), [0, 500, 2000])
    .option('--no-adaptive', 'do not try adaptive batching')
    .option('--input-data <random|zero|FILE>', 'input values, as for vireo bench', 'random')
    .option('-p, --measurement-interval <ms>', 'length of one measurement window', (v) => Math.round(positive(v)), 1000)
    .option('-r, --max-trials <n>', 'most windows per candidate', (v) => Math.max(3, Math.round(positive(v))), 6)
    .option('-f, --output <file>', 'write every candidate\'s results as JSON')
    .option('--chart <file>', 'write a chart of throughput and p99 per candidate (.svg)')
    .option('--write', "write the best configuration into the model's config file (the previous one is kept as <file>.before-tune)")
    .option('-q, --quiet', 'no progress bar')
    .action(async (opts) => {
      if (opts.concurrency && opts.requestRate) throw new InvalidArgumentError('give --concurrency or --request-rate, not both');
      if (!existsSync(join(resolve(opts.modelRepository), opts.modelName))) {
        process.stderr.write(`vireo tune: no model "${opts.modelName}" in ${resolve(opts.modelRepository)}\n`);
        process.exitCode = 1;
        return;
      }
      const progress = progressLine(process.stderr, !opts.quiet);
      const started = Date.now();
      const options: TuneOptions = {
        repository: opts.modelRepository, model: opts.modelName, sloP99Ms: opts.sloP99Ms,
        mode: opts.requestRate ? 'request-rate' : 'concurrency', load: opts.requestRate ?? opts.concurrency ?? 8,
        instanceCounts: opts.instanceCounts, maxBatchSizes: opts.maxBatchSizes, queueDelaysUs: opts.maxQueueDelaysUs, adaptive: opts.adaptive,
        windowMs: opts.measurementInterval, maxWindows: opts.maxTrials,
        data: ['random', 'zero'].includes(opts.inputData) ? opts.inputData : { file: opts.inputData }, shapes: {},
        onStart: (candidates, estimate) => {
          process.stderr.write(`vireo tune: ${candidates.length} candidates for "${opts.modelName}" at ${opts.requestRate ? `${opts.requestRate} requests/s` : `concurrency ${opts.concurrency ?? 8}`}; about ${minutes(estimate.low)} to ${minutes(estimate.high)}\n`);
          progress.update(`${bar(0, candidates.length)} starting ${candidateLabel(candidates[0]!)}`);
        },
        onCandidate: (done, total, result) => {
          const outcome = result.step ? `${result.step.inferencesPerSecond.toFixed(1)} infer/s, p99 ${result.step.p99.toFixed(2)} ms` : `failed: ${result.error}`;
          progress.done(`${candidateLabel(result.candidate)}: ${outcome}`);
          // The estimate printed first was a guess; from here on it is what this machine took so far.
          if (done < total) progress.update(`${bar(done, total)} about ${minutes(((Date.now() - started) / done) * (total - done))} left`);
        },
      };
      const result = await runTune(options);
      process.stdout.write(`${tuneTable(result)}\n`);
      if (opts.output) writeFileSync(opts.output, `${JSON.stringify(result, null, 2)}\n`);
      if (opts.chart) writeFileSync(opts.chart, tuneChart(result));
      if (!result.best) {
        process.stdout.write(opts.sloP99Ms !== undefined ? `\nNo candidate met p99 ≤ ${opts.sloP99Ms} ms at this load.\n` : '\nNo candidate could be measured.\n');
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`\nBest: ${candidateLabel(result.best.candidate)} — ${result.best.step!.inferencesPerSecond.toFixed(1)} infer/s, p99 ${result.best.step!.p99.toFixed(2)} ms\n${bestSnippet(result.best)}`);
      if (opts.write) {
        const file = writeBest(opts.modelRepository, opts.modelName, result.configFile, result.best);
        process.stdout.write(`Written to ${file}${result.configFile ? ` (previous: ${result.configFile}.before-tune)` : ''}\n`);
      } else {
        process.stdout.write(`Not written: run with --write to put it into ${result.configFile ?? join(resolve(opts.modelRepository), opts.modelName, 'config.yaml')}\n`);
      }
    });
}
