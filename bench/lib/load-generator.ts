/**
 * The load generator, run in its own process (child_process.fork) so its CPU use is separate from
 * the server's and measurable: `concurrency` closed-loop clients, each sending one single-item
 * request and waiting for the answer before sending the next, over keep-alive HTTP/1.1.
 * Input: a JSON job in argv[2]; output: one JSON line on stdout.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { summarize } from './stats.js';

export interface LoadJob {
  url: string;
  /** File holding the request body, read once. */
  bodyFile: string;
  /** Request headers besides content-length (content-type; the binary extension's header length). */
  headers: Record<string, string>;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
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
  const body = readFileSync(job.bodyFile);
  const target = new URL(job.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
  const send = () => new Promise<{ status: number; text: string }>((resolve, reject) => {
    const request = http.request({
      host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent,
      headers: { ...job.headers, 'content-length': body.length },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: response.statusCode === 200 ? '' : Buffer.concat(chunks).toString().slice(0, 200) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });

  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const measureFrom = start + job.warmupMs;
  const stopAt = measureFrom + job.durationMs;
  let cpuAtMeasure: NodeJS.CpuUsage | undefined;
  const client = async () => {
    while (performance.now() < stopAt) {
      const sent = performance.now();
      try {
        const { status, text } = await send();
        const done = performance.now();
        if (status !== 200) {
          errors++;
          firstError ??= `${status} ${text}`;
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
  agent.destroy();
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
