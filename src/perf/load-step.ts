/**
 * One load level of `vireo bench`, measured as perf_analyzer measures it: the load runs without
 * pause while consecutive measurement windows are taken, until the throughput and the mean latency
 * of the last three windows agree within the stability tolerance (or the window budget is spent;
 * the step then says it is not stable). Results come from those last three windows.
 *
 * Concurrency mode keeps N requests outstanding (N closed-loop lanes). Request-rate mode sends on a
 * schedule (constant spacing or Poisson arrivals) whatever the server does; latency counts from
 * the scheduled time, so a server that falls behind shows it (no coordinated omission), and
 * requests that found every lane busy are counted as delayed. Outstanding requests are bounded.
 */
import { summarize, type LatencySummary } from './latency-stats.js';
import type { Driver, Lane, StatsSnapshot } from './load-drivers.js';

export interface StepOptions {
  mode: 'concurrency' | 'request-rate';
  level: number;
  arrivals: 'constant' | 'poisson';
  windowMs: number;
  /** Windows agree when each is within this percentage of their mean (perf_analyzer: 10). */
  stabilityPercent: number;
  maxWindows: number;
  /** Request-rate mode: most requests outstanding at once. */
  maxInflight: number;
  /** Called after each window with its throughput (inferences/s) and p99 (ms). */
  onWindow?: (window: number, throughput: number, p99: number) => void;
  /** Receives the latencies (ms) of the measured windows once the step ends. */
  onSamples?: (latencies: number[]) => void;
}

/** The server's own account of the step (statistics extension), per request, in microseconds. */
export interface ServerSplit {
  requests: number;
  avgBatchSize: number;
  totalUs: number;
  queueUs: number;
  computeInputUs: number;
  computeInferUs: number;
  computeOutputUs: number;
}

export interface StepResult extends LatencySummary {
  mode: StepOptions['mode'];
  level: number;
  windows: number;
  stable: boolean;
  /** Answered requests in the measured windows, and requests per second over them. */
  requests: number;
  throughput: number;
  errors: number;
  firstError?: string;
  delayed: number;
  server?: ServerSplit;
}

const STABLE_WINDOWS = 3;

interface Window { latencies: number[]; errors: number }

function split(before: StatsSnapshot | undefined, after: StatsSnapshot | undefined): ServerSplit | undefined {
  if (!before || !after) return undefined;
  const requests = after.success.count - before.success.count;
  if (requests <= 0) return undefined;
  const avg = (key: 'queue' | 'computeInput' | 'computeInfer' | 'computeOutput' | 'success') => {
    const count = after[key].count - before[key].count;
    return count > 0 ? (after[key].ns - before[key].ns) / count / 1000 : 0;
  };
  const executions = after.executionCount - before.executionCount;
  return {
    requests,
    avgBatchSize: executions > 0 ? (after.inferenceCount - before.inferenceCount) / executions : 0,
    totalUs: avg('success'), queueUs: avg('queue'), computeInputUs: avg('computeInput'), computeInferUs: avg('computeInfer'), computeOutputUs: avg('computeOutput'),
  };
}

function stableOver(windows: Window[], windowMs: number, percent: number): boolean {
  if (windows.length < STABLE_WINDOWS) return false;
  const last = windows.slice(-STABLE_WINDOWS);
  const within = (values: number[]) => {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    return mean > 0 && values.every((v) => Math.abs(v - mean) <= (mean * percent) / 100);
  };
  const throughputs = last.map((w) => (w.latencies.length * 1000) / windowMs);
  const means = last.map((w) => w.latencies.reduce((a, b) => a + b, 0) / Math.max(1, w.latencies.length));
  return within(throughputs) && within(means);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runStep(driver: Driver, options: StepOptions): Promise<StepResult> {
  const windows: Window[] = [{ latencies: [], errors: 0 }];
  let firstError: string | undefined;
  let stopping = false;
  let delayed = 0;
  let sent = 0;
  const record = (startedAt: number, error?: unknown) => {
    const window = windows.at(-1)!;
    if (error === undefined) window.latencies.push(performance.now() - startedAt);
    else {
      window.errors++;
      firstError ??= (error as Error).message;
    }
  };
  const lanes: Lane[] = [];
  const newLane = () => {
    const lane = driver.lane();
    lanes.push(lane);
    return lane;
  };
  const before = await driver.statistics();

  let load: Promise<unknown>;
  if (options.mode === 'concurrency') {
    load = Promise.all(Array.from({ length: Math.max(1, Math.round(options.level)) }, async () => {
      const lane = newLane();
      while (!stopping) {
        const startedAt = performance.now();
        try {
          await lane.send(sent++);
          record(startedAt);
        } catch (error) {
          record(startedAt, error);
          // A refused connection would otherwise spin; a failing server still gets a steady stream.
          await sleep(1);
        }
      }
    }));
  } else {
    const idle: Lane[] = [];
    const waiting: number[] = [];
    const outstanding = new Set<Promise<void>>();
    const dispatch = (lane: Lane, scheduledAt: number) => {
      const p = lane.send(sent++).then(() => record(scheduledAt), (error) => record(scheduledAt, error)).finally(() => {
        outstanding.delete(p);
        const next = waiting.shift();
        if (next !== undefined && !stopping) dispatch(lane, next);
        else idle.push(lane);
      });
      outstanding.add(p);
    };
    const gap = () => (options.arrivals === 'poisson' ? -Math.log(1 - Math.random()) : 1) * (1000 / options.level);
    load = (async () => {
      let next = performance.now();
      while (!stopping) {
        const now = performance.now();
        while (next <= now && !stopping) {
          const lane = idle.pop() ?? (lanes.length < options.maxInflight ? newLane() : undefined);
          if (lane) dispatch(lane, next);
          else if (waiting.length < options.maxInflight) {
            delayed++;
            waiting.push(next);
          } else {
            // Past the bound even for waiting sends: count it as an error rather than grow memory.
            record(next, new Error(`more than ${2 * options.maxInflight} requests outstanding; the server is far behind the requested rate`));
          }
          next += gap();
        }
        await sleep(Math.max(0, Math.min(next - performance.now(), 5)));
      }
      waiting.length = 0;
      await Promise.all(outstanding);
    })();
  }

  for (let w = 1; w <= options.maxWindows; w++) {
    await sleep(options.windowMs);
    const done = windows.at(-1)!;
    options.onWindow?.(w, (done.latencies.length * 1000) / options.windowMs, summarize(done.latencies).p99);
    if (stableOver(windows, options.windowMs, options.stabilityPercent) || w === options.maxWindows) break;
    windows.push({ latencies: [], errors: 0 });
  }
  const measured = windows.slice(-STABLE_WINDOWS);
  const stable = stableOver(windows, options.windowMs, options.stabilityPercent);
  // Completions after this point land in a window nobody reads.
  windows.push({ latencies: [], errors: 0 });
  stopping = true;
  await load;
  for (const lane of lanes) lane.close();
  const after = await driver.statistics();
  const latencies = measured.flatMap((w) => w.latencies);
  options.onSamples?.(latencies);
  const seconds = (measured.length * options.windowMs) / 1000;
  return {
    mode: options.mode,
    level: options.level,
    windows: windows.length - 1,
    stable,
    requests: latencies.length,
    throughput: latencies.length / seconds,
    errors: measured.reduce((sum, w) => sum + w.errors, 0),
    firstError,
    delayed,
    ...summarize(latencies),
    server: split(before, after),
  };
}
