/**
 * `vireo bench` as a library: reads the model through the driver, builds the requests, runs one
 * step per load level (load-step.ts) and reports progress as it goes. The CLI (cli/bench-command.ts)
 * and `vireo tune` call this.
 */
import { benchRequests, type InputData } from './bench-inputs.js';
import type { BenchRun, BenchStep } from './bench-report.js';
import { createDriver, type Protocol } from './load-drivers.js';
import { percentile } from './latency-stats.js';
import { runStep, type StepOptions } from './load-step.js';

export interface BenchOptions {
  model: string;
  version?: string;
  url: string;
  protocol: Protocol;
  binary: boolean;
  mode: StepOptions['mode'];
  levels: number[];
  arrivals: StepOptions['arrivals'];
  data: InputData;
  shapes: Record<string, number[]>;
  batchSize: number;
  windowMs: number;
  stabilityPercent: number;
  maxWindows: number;
  maxInflight: number;
  percentile: number;
  /** Progress: a step starts, a window ends, a step ends. */
  onProgress?: (event: { kind: 'window'; level: number; window: number; throughput: number; p99: number } | { kind: 'step'; step: BenchStep }) => void;
}

export async function runBench(options: BenchOptions): Promise<BenchRun> {
  const driver = createDriver({ protocol: options.protocol, url: options.url, model: options.model, version: options.version, binary: options.binary });
  try {
    const [metadata, maxBatchSize] = await Promise.all([driver.metadata(), driver.maxBatchSize()]);
    if (maxBatchSize > 0 && options.batchSize > maxBatchSize) throw new Error(`--batch-size ${options.batchSize} is above the model's max_batch_size ${maxBatchSize}`);
    const requests = benchRequests(metadata, { data: options.data, shapes: options.shapes, batchSize: options.batchSize, maxBatchSize });
    driver.prepare(requests);
    const rows = maxBatchSize > 0 ? options.batchSize : 1;
    const run: BenchRun = {
      model: options.model, url: options.url, protocol: options.protocol, wire: options.protocol === 'grpc' ? 'raw' : options.binary ? 'binary' : 'json',
      batchSize: rows, percentile: options.percentile, startedAt: new Date().toISOString(), steps: [],
    };
    for (const level of options.levels) {
      const latencies: number[] = [];
      const result = await runStep(driver, {
        mode: options.mode, level, arrivals: options.arrivals, windowMs: options.windowMs, stabilityPercent: options.stabilityPercent,
        maxWindows: options.maxWindows, maxInflight: options.maxInflight,
        onWindow: (window, throughput, p99) => options.onProgress?.({ kind: 'window', level, window, throughput: throughput * rows, p99 }),
        onSamples: (samples) => latencies.push(...samples),
      });
      const sorted = Float64Array.from(latencies).sort();
      const step: BenchStep = { ...result, inferencesPerSecond: result.throughput * rows, pctl: percentile(sorted, options.percentile / 100) };
      run.steps.push(step);
      options.onProgress?.({ kind: 'step', step });
    }
    return run;
  } finally {
    await driver.close();
  }
}
