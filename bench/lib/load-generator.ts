/**
 * The load generator, run in its own process (bench/lib/processes.ts) so its CPU use is separate from
 * the server's and measurable: `concurrency` closed-loop clients, each sending one single-item
 * request and waiting for the answer before sending the next, over keep-alive HTTP/1.1 (a lean raw-socket
 * client, raw-http-client.ts, so that the generator takes as little CPU from the server as it can).
 * Input: a JSON job in argv[2]; output: one JSON line on stdout.
 */
import { readFileSync } from 'node:fs';
import { summarize } from './stats.js';
import { RawHttpConnection, serializePost } from '../../src/perf/raw-http-client.js';

export interface LoadJob {
  url: string;
  /** File holding the request body, read once. */
  bodyFile: string;
  /** Request headers besides content-length (content-type; the binary extension's header length). */
  headers: Record<string, string>;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /**
   * Vary the body so that half the requests repeat earlier ones (the response-cache benchmark):
   * the 4 bytes at `byteOffset` of the body (the first element of a binary input) become, on even
   * requests, one of `hotSet` values seen over and over, on odd ones a value never sent before.
   */
  repeats?: { byteOffset: number; hotSet: number; datatype: 'FP32' | 'INT32' };
}

export interface LoadResult {
  requests: number;
  errors: number;
  firstError?: string;
  seconds: number;
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  /** CPU the load generator itself used, as a percentage of one core over the measured window. */
  clientCpuPercent: number;
  /** The server's CPU over the same window (% of one core): its main thread, and all its other threads. */
  serverMainCpuPercent?: number;
  serverOtherCpuPercent?: number;
}

async function main(job: LoadJob): Promise<LoadResult> {
  const target = new URL(job.url);
  const request = serializePost(target, job.headers, readFileSync(job.bodyFile));
  const connections: RawHttpConnection[] = [];

  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const measureFrom = start + job.warmupMs;
  const stopAt = measureFrom + job.durationMs;
  let cpuAtMeasure: NodeJS.CpuUsage | undefined;
  let sequence = 0;
  const bodyStart = request.length - readFileSync(job.bodyFile).length;
  const client = async () => {
    const connection = new RawHttpConnection(target);
    connections.push(connection);
    // A client's own copy: it patches it only while no write of it is pending (closed loop).
    const own = job.repeats ? Buffer.from(request) : request;
    while (performance.now() < stopAt) {
      if (job.repeats) {
        const n = sequence++;
        const value = n % 2 === 0 ? (n / 2) % job.repeats.hotSet : 1_000_000 + n;
        if (job.repeats.datatype === 'FP32') own.writeFloatLE(value, bodyStart + job.repeats.byteOffset);
        else own.writeInt32LE(value, bodyStart + job.repeats.byteOffset);
      }
      const sent = performance.now();
      try {
        const { status, body } = await connection.send(own);
        const done = performance.now();
        if (status !== 200) {
          errors++;
          firstError ??= `${status} ${body.toString('utf8', 0, 200)}`;
        } else if (done >= measureFrom && done <= stopAt) {
          // Completions inside the window count, whenever they were sent (long requests too).
          latencies.push(done - sent);
        }
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
      }
    }
  };
  // The parent samples the server's CPU on these two lines, so both cover the same window.
  const timer = setTimeout(() => { cpuAtMeasure = process.cpuUsage(); process.stdout.write('measure-start\n'); }, job.warmupMs);
  let ended = false;
  const end = () => { if (!ended) process.stdout.write('measure-end\n'); ended = true; };
  const endTimer = setTimeout(end, job.warmupMs + job.durationMs);
  await Promise.all(Array.from({ length: job.concurrency }, client));
  clearTimeout(timer);
  clearTimeout(endTimer);
  end();
  const cpu = process.cpuUsage(cpuAtMeasure);
  for (const connection of connections) connection.close();
  const seconds = job.durationMs / 1000;
  return {
    requests: latencies.length,
    errors,
    firstError,
    seconds,
    throughput: latencies.length / seconds,
    ...summarize(latencies),
    clientCpuPercent: ((cpu.user + cpu.system) / 1000 / job.durationMs) * 100,
  };
}

const job = JSON.parse(process.argv[2]!) as LoadJob;
process.stdout.write(`${JSON.stringify(await main(job))}\n`);
