/** Child processes of a benchmark run: servers, the load generator and the raw-onnxruntime runner. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { LoadJob, LoadResult } from './load-generator.js';
import type { OpenLoopJob, OpenLoopResult } from './open-loop.js';
import type { RawJob, RawPoint } from './raw-ort.js';
import { cpuPercent, sampleCpu, type CpuSample } from './process-cpu.js';

const benchDir = join(import.meta.dirname, '..');
const rootDir = join(benchDir, '..');
const tsx = ['--import', 'tsx'];

/** Children still running: ended if the benchmark itself is interrupted, so none is left behind. */
const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(130);
  });
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/** `count` distinct free ports: all held open together, so none is handed out twice. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer().listen(0, '127.0.0.1'));
  await Promise.all(servers.map((server) => once(server, 'listening')));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => { server.close(); return once(server, 'close'); }));
  return ports;
}

/**
 * Runs a TypeScript script in a child process and returns its last stdout line parsed as JSON;
 * `onLine` sees every earlier line as it arrives.
 */
async function runJson<T>(script: string, job: unknown, timeoutMs: number, onLine?: (line: string) => void): Promise<T> {
  const child = track(spawn(process.execPath, [...tsx, script, JSON.stringify(job)], { cwd: rootDir, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  let seen = 0;
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    if (!onLine) return;
    for (let end = out.indexOf('\n', seen); end >= 0; end = out.indexOf('\n', seen)) {
      onLine(out.slice(seen, end));
      seen = end + 1;
    }
  });
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  const last = out.trim().split('\n').at(-1);
  if (code !== 0 || !last) throw new Error(`${script} failed (exit ${code}): ${err.slice(-2000)}`);
  return JSON.parse(last) as T;
}

/** Drives a server with the load generator; with `serverPid`, also reports the server's CPU over the measured window. */
export async function runLoad(job: LoadJob, serverPid?: number): Promise<LoadResult> {
  let before: CpuSample | undefined;
  let after: CpuSample | undefined;
  const result = await runJson<LoadResult>(join(benchDir, 'lib', 'load-generator.ts'), job, job.warmupMs + job.durationMs + 120_000, (line) => {
    if (line === 'measure-start') before = sampleCpu(serverPid);
    else if (line === 'measure-end') after = sampleCpu(serverPid);
  });
  const cpu = cpuPercent(before, after, job.durationMs / 1000);
  return cpu ? { ...result, serverMainCpuPercent: cpu.main, serverOtherCpuPercent: cpu.other } : result;
}

/**
 * bench/lib/open-loop.ts in its own process; `onMeasure` hears when its sending starts and ends (what
 * the caller measures beside it, such as a batch job's progress, belongs in that window, not in the
 * process's start-up).
 */
export const runOpenLoop = (job: OpenLoopJob, onMeasure?: (edge: 'start' | 'end') => void): Promise<OpenLoopResult> =>
  runJson(join(benchDir, 'lib', 'open-loop.ts'), job, job.seconds * 1000 + 120_000, (line) => {
    if (line === 'measure-start') onMeasure?.('start');
    else if (line === 'measure-end') onMeasure?.('end');
  });

export const runRaw = (job: RawJob): Promise<RawPoint[]> =>
  runJson(join(benchDir, 'lib', 'raw-ort.ts'), job, job.batchSizes.length * (job.durationMs + 60_000));

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
  /** Vireo's gRPC and metrics ports (free ones, so runs side by side never meet on 8001/8002). */
  grpcPort?: number;
  metricsPort?: number;
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not ready after ${timeoutMs} ms`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
}

/**
 * Vireo from source, as `vireo serve` (`nodeArgs` e.g. --cpu-prof), with every frontend on as a user
 * runs it: HTTP, gRPC and metrics each on a free port.
 */
/** `root`: the checkout whose `bin/vireo.js` runs (another one for a side-by-side baseline). */
export async function startVireo(repository: string, nodeArgs: string[] = [], serveArgs: string[] = [], root = rootDir): Promise<ServerProcess> {
  const [port, grpcPort, metricsPort] = await freePorts(3) as [number, number, number];
  const child = track(spawn(process.execPath, [...nodeArgs, join(root, 'bin', 'vireo.js'), 'serve',
    '--model-repository', repository, '--http-port', String(port), '--http-address', '127.0.0.1',
    '--grpc-port', String(grpcPort), '--metrics-port', String(metricsPort), '--log-format', 'json', ...serveArgs], {
    cwd: root, stdio: ['ignore', 'ignore', 'inherit'],
  }));
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/v2/health/ready`, child, 180_000);
  return { url, child, stop: stopper(child), grpcPort, metricsPort };
}

/** bench/naive-server.ts serving `models` (name → model file). */
export async function startNaive(models: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const specs = Object.entries(models).map(([name, path]) => `${name}=${path}`);
  const child = track(spawn(process.execPath, [...tsx, join(benchDir, 'naive-server.ts'), String(port), ...specs], {
    cwd: rootDir, stdio: ['ignore', 'pipe', 'inherit'],
  }));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('ready')) resolve(); });
    child.once('exit', (code) => reject(new Error(`naive server exited with code ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child, stop: stopper(child) };
}
