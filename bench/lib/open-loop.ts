/**
 * An open-loop load generator, run in its own process (bench/lib/processes.ts, runOpenLoop) so that its
 * own pauses and CPU are not the server's tail: one request every 1/rate s, whatever the answers do,
 * each one's latency counted from its scheduled time. It keeps at most `maxConnections` keep-alive
 * connections; a request that finds them all busy waits for one, and that wait counts in its latency.
 * Unbounded, a stall of the server made it open hundreds of connections at once, beyond the listen
 * backlog: the kernel dropped them and TCP retried after 1 s, which became the p99 (2026-12-01).
 * Input: a JSON job in argv[2]; output: `measure-start` and `measure-end` lines around the sending, then
 * one JSON line (OpenLoopResult).
 */
import { summarize } from './stats.js';
import { RawHttpConnection, serializePost } from '../../src/perf/raw-http-client.js';

export interface OpenLoopJob {
  url: string;
  /** The JSON request body. */
  body: string;
  rate: number;
  seconds: number;
  /** Default 128, well under the listen backlog of 511. */
  maxConnections?: number;
}

const DEFAULT_MAX_CONNECTIONS = 128;

export interface OpenLoopResult {
  p50: number;
  p95: number;
  p99: number;
  throughput: number;
  errors: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function openLoop(job: OpenLoopJob): Promise<OpenLoopResult> {
  const target = new URL(job.url);
  const bytes = serializePost(target, { 'content-type': 'application/json' }, Buffer.from(job.body));
  const idle: RawHttpConnection[] = [];
  const waiting: ((connection: RawHttpConnection) => void)[] = [];
  const maxConnections = job.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  let opened = 0;
  const acquire = (): RawHttpConnection | Promise<RawHttpConnection> => {
    const connection = idle.pop();
    if (connection) return connection;
    if (opened < maxConnections) {
      opened++;
      return new RawHttpConnection(target);
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (connection: RawHttpConnection) => {
    const next = waiting.shift();
    if (next) next(connection);
    else idle.push(connection);
  };
  const latencies: number[] = [];
  let errors = 0;
  process.stdout.write('measure-start\n');
  const start = performance.now();
  const total = Math.round(job.rate * job.seconds);
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / job.rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const connection = await acquire();
    pending.push(connection.send(bytes).then((answer) => {
      latencies.push(performance.now() - due);
      if (answer.status !== 200) errors++;
      release(connection);
    }, () => {
      errors++;
      connection.close();
      opened--;
      // A waiting request gets a new connection in place of the failed one.
      const next = waiting.shift();
      if (next) {
        opened++;
        next(new RawHttpConnection(target));
      }
    }));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  process.stdout.write('measure-end\n');
  for (const c of idle) c.close();
  return { ...summarize(latencies), throughput: latencies.length / elapsed, errors };
}

const result = await openLoop(JSON.parse(process.argv[2]!) as OpenLoopJob);
process.stdout.write(`${JSON.stringify(result)}\n`);
