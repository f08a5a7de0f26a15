/**
 * Scale-out demo: N = 1, 2, 3 Vireo replicas (separate processes) behind nginx, driven by the same
 * closed-loop load, reported side by side (throughput, p50, p99, how nginx spread the requests).
 *
 *   npm run scale-demo [-- --replicas 1,2,3 --concurrency 32 --duration 10]
 *
 * The load balancer is nginx (Debian's package: apt-get install nginx), a real one, configured as a Kubernetes
 * Service or ingress would be: least-connections over the replicas, keep-alive upstream connections. Each
 * replica runs one instance of a CPU-bound MLP with one onnxruntime thread, so a replica is worth about one
 * core: on a 2-core machine the curve can rise from 1 to 2 replicas and must flatten after, since the load
 * generator and nginx share the same cores. docs/scaling.md explains the numbers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mlpModel } from '../tools/modelgen/models.js';

const { values: args } = parseArgs({
  options: {
    replicas: { type: 'string', default: '1,2,3' },
    concurrency: { type: 'string', default: '32' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
  },
});
const REPLICAS = args.replicas.split(',').map(Number);
const CONCURRENCY = Number(args.concurrency);
const DURATION_MS = Number(args.duration) * 1000;
const WARMUP_MS = Number(args.warmup) * 1000;
const SIZES = [512, 2048, 2048, 2048, 16];
const root = join(import.meta.dirname, '..');

if (spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status !== 0) {
  console.error('scale-demo needs nginx as its load balancer: apt-get install nginx');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'vireo-scale-'));
const children = new Set<ChildProcess>();
const cleanUp = () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanUp();
  process.exit(130);
});

function writeRepository(): string {
  const repo = join(work, 'models');
  mkdirSync(join(repo, 'mlp', '1'), { recursive: true });
  writeFileSync(join(repo, 'mlp', '1', 'model.onnx'), mlpModel(SIZES, 7));
  writeFileSync(join(repo, 'mlp', 'config.yaml'), [
    'max_batch_size: 8',
    'instance_group: [{ count: 1, kind: KIND_CPU }]',
    'parameters: { intra_op_threads: 1, inter_op_threads: 1 }',
    'dynamic_batching: { max_queue_delay_microseconds: 500 }',
    '',
  ].join('\n'));
  return repo;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

function start(command: string, argv: string[]): ChildProcess {
  const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'inherit'], cwd: root });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

function nginxConfig(prefix: string, port: number, upstreams: number[]): string {
  return `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream vireo {
    least_conn;
${upstreams.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://vireo;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

interface Result { replicas: number; requests: number; errors: number; throughput: number; p50: number; p99: number; spread: number[]; clientCpu: number }

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Closed loop: CONCURRENCY clients, each sends its next request when the previous one is answered. */
async function drive(port: number, body: string, durationMs: number): Promise<{ latencies: number[]; errors: number; elapsed: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + durationMs;
  const one = () => new Promise<void>((resolve) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path: '/v2/models/mlp/infer', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) latencies.push(performance.now() - t0);
        else errors += 1;
        resolve();
      });
    });
    req.on('error', () => {
      errors += 1;
      resolve();
    });
    req.end(body);
  });
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) await one();
  }));
  agent.destroy();
  return { latencies, errors, elapsed: performance.now() - started };
}

async function successCount(port: number): Promise<number> {
  const stats = await (await fetch(`http://127.0.0.1:${port}/v2/models/mlp/stats`)).json() as { model_stats: { inference_stats: { success: { count: number } } }[] };
  return stats.model_stats[0]!.inference_stats.success.count;
}

async function measure(replicas: number, repo: string, body: string): Promise<Result> {
  const ports = await Promise.all(Array.from({ length: replicas }, freePort));
  // Each replica as deployed (metrics on), every port its own; gRPC is off since the demo drives HTTP only.
  const servers = await Promise.all(ports.map(async (port) => start(process.execPath, [join(root, 'bin/vireo.js'), 'serve', '--model-repository', repo,
    '--http-port', String(port), '--http-address', '127.0.0.1', '--grpc-port', '-1', '--metrics-port', String(await freePort()), '--log-format', 'json'])));
  try {
    await Promise.all(ports.map((port) => waitFor(`http://127.0.0.1:${port}/v2/health/ready`)));
    const prefix = join(work, `nginx-${replicas}`);
    mkdirSync(prefix, { recursive: true });
    const lbPort = await freePort();
    writeFileSync(join(prefix, 'nginx.conf'), nginxConfig(prefix, lbPort, ports));
    const nginx = start('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;']);
    try {
      await waitFor(`http://127.0.0.1:${lbPort}/v2/health/ready`);
      await drive(lbPort, body, WARMUP_MS);
      const before = await Promise.all(ports.map(successCount));
      const cpu = process.cpuUsage();
      const { latencies, errors, elapsed } = await drive(lbPort, body, DURATION_MS);
      const used = process.cpuUsage(cpu);
      const clientCpu = (used.user + used.system) / 1000 / elapsed;
      const after = await Promise.all(ports.map(successCount));
      latencies.sort((a, b) => a - b);
      const served = after.map((n, i) => n - before[i]!);
      const total = served.reduce((a, b) => a + b, 0) || 1;
      return {
        replicas, requests: latencies.length, errors, throughput: latencies.length / (elapsed / 1000),
        p50: percentile(latencies, 50), p99: percentile(latencies, 99), spread: served.map((n) => n / total), clientCpu,
      };
    } finally {
      await stop(nginx);
    }
  } finally {
    await Promise.all(servers.map(stop));
  }
}

const repo = writeRepository();
const input = Array.from({ length: SIZES[0]! }, (_, i) => Math.sin(i) * 0.5);
const body = JSON.stringify({ inputs: [{ name: 'INPUT', shape: [1, SIZES[0]], datatype: 'FP32', data: input }] });
console.error(`scale-demo: MLP ${SIZES.join('x')}, ${CONCURRENCY} concurrent clients, ${DURATION_MS / 1000}s per run, ${availableParallelism()} CPU cores, nginx least_conn`);
const results: Result[] = [];
try {
  for (const n of REPLICAS) {
    console.error(`  measuring ${n} replica(s)...`);
    results.push(await measure(n, repo, body));
  }
} finally {
  cleanUp();
}
const base = results[0]!.throughput;
console.log('\n| replicas | requests/s | vs 1 | p50 ms | p99 ms | errors | share per replica | load generator CPU |');
console.log('|---:|---:|---:|---:|---:|---:|---|---:|');
for (const r of results) {
  console.log(`| ${r.replicas} | ${r.throughput.toFixed(0)} | ${(r.throughput / base).toFixed(2)}x | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.errors} | ${r.spread.map((s) => `${(s * 100).toFixed(0)}%`).join(' / ')} | ${(r.clientCpu * 100).toFixed(0)}% |`);
}
console.log(`\n${availableParallelism()} cores: every replica, nginx and the load generator share them, so throughput stops growing once the replicas' compute fills the cores.`);
console.log(JSON.stringify({ cores: availableParallelism(), concurrency: CONCURRENCY, durationSeconds: DURATION_MS / 1000, model: SIZES, results }));
