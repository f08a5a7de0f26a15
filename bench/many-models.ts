/**
 * Many models per server, side by side with another checkout (issue: per-model cost close to the
 * model itself, fast start):
 *   tsx bench/many-models.ts [--baseline <checkout>] [--models 100] [--cycles 20] [--only many,examples,cycles]
 * For this checkout and (with --baseline, e.g. `git archive main | tar -x -C /tmp/vireo-main` with
 * node_modules linked) the other one, each started as `node bin/vireo.js serve` from source (as
 * `npm start` does; VIREO_USE_DIST=1 in the environment runs dist/ instead):
 * - many: `--models` generated copies of the 1 KB `simple` model: RSS and threads once ready, and
 *   start → ready (spawn until /v2/health/ready answers 200, every model loaded), against the same
 *   sessions in one plain Node process (bench/lib/plain-sessions.ts);
 * - examples: examples/models idle RSS against its ONNX files as plain sessions, and the same ONNX
 *   models served without the repository's handler models;
 * - cycles: `--cycles` explicit load/unload cycles of ocr_rec: RSS while loaded after the first
 *   cycle, the third (the main thread's heap sized to the answers by then) and the last; with `--infer n`, n inference calls per cycle; and the same cycles of
 *   one plain onnxruntime session in a plain Node process (bench/lib/plain-cycles.ts), which shows
 *   what onnxruntime and the C library keep of a session by themselves.
 * RSS is the server process's VmRSS (all its threads). Prints a markdown report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { simpleModel } from '../tools/modelgen/models.js';
import { freePort } from './lib/processes.js';

const { values } = parseArgs({ options: {
  baseline: { type: 'string' }, models: { type: 'string', default: '100' }, cycles: { type: 'string', default: '20' },
  only: { type: 'string', default: 'many,examples,cycles' },
  /** Inference calls per cycle (ocr_rec, one 48×320 line): enough calls move it to a thread of its own. */
  infer: { type: 'string', default: '0' },
} });
const here = join(import.meta.dirname, '..');
const systems = [{ name: 'this branch', root: here }, ...(values.baseline ? [{ name: 'baseline', root: values.baseline }] : [])];
const only = new Set(values.only!.split(','));
const MIB = 1024 * 1024;
const mib = (bytes: number) => (bytes / MIB).toFixed(0);

async function status(pid: number): Promise<{ rss: number; threads: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(text)![1]) * 1024, threads: Number(/Threads:\s+(\d+)/.exec(text)![1]) };
}

interface Server { url: string; metricsUrl: string; child: ChildProcess; readyMs: number; readyCpuS: number; stop: () => Promise<void> }

/** CPU seconds (user + system, all threads) the process used so far: unlike wall time, barely moved by a busy machine. */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startServer(root: string, repository: string, extra: string[] = []): Promise<Server> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const started = performance.now();
  const child = spawn(process.execPath, [join(root, 'bin', 'vireo.js'), 'serve', '--model-repository', repository,
    '--http-port', String(port), '--http-address', '127.0.0.1', '--grpc-port', '0', '--metrics-port', String(metricsPort), '--metrics-address', '127.0.0.1', '--log-format', 'json', ...extra], {
    cwd: root, stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode})`);
    const ok = await fetch(`${url}/v2/health/ready`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const readyMs = performance.now() - started;
  const readyCpuS = await cpuSeconds(child.pid!);
  return { url, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, child, readyMs, readyCpuS, stop: async () => { child.kill('SIGTERM'); await once(child, 'exit'); } };
}

/**
 * The main thread's V8 heap (committed) and the external memory it holds (array buffers), from the
 * server's own metrics: the part of RSS that moves with garbage collection and the young generation's
 * growth under traffic rather than with what loads and unloads leave behind.
 */
async function mainHeap(server: Server): Promise<number> {
  const text = await (await fetch(server.metricsUrl)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return value('nodejs_heap_size_total_bytes') + value('nodejs_external_memory_bytes');
}

/** Settles after start (lazy pages, the first collections) before reading RSS. */
async function idleStatus(pid: number): Promise<{ rss: number; threads: number }> {
  await new Promise((r) => setTimeout(r, 3000));
  return status(pid);
}

async function plainSessions(files: string[]): Promise<{ rss: number; threads: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'bench', 'lib', 'plain-sessions.ts'), ...files], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(child.stdout!, 'data') as [Buffer];
  child.kill('SIGTERM');
  return JSON.parse(line.toString()) as { rss: number; threads: number };
}

/** RSS after each cycle of bench/lib/plain-cycles.ts. */
async function plainCycles(model: string, cycles: number, calls: number): Promise<number[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'bench', 'lib', 'plain-cycles.ts'), model, String(cycles), String(calls), 'x', '1,3,48,320'], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c; });
  const [code] = await once(child, 'exit') as [number];
  if (code !== 0) throw new Error(`plain-cycles exited with code ${code}`);
  return out.trim().split('\n').map((line) => (JSON.parse(line) as { rss: number }).rss);
}

const report: string[] = [];
const row = (cells: (string | number)[]) => report.push(`| ${cells.join(' | ')} |`);

if (only.has('many')) {
  const count = Number(values.models);
  const repo = await mkdtemp(join(tmpdir(), 'vireo-many-'));
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const dir = join(repo, `simple_${i}`);
    await mkdir(join(dir, '1'), { recursive: true });
    await writeFile(join(dir, 'config.yaml'), 'backend: onnx\nmax_batch_size: 8\n');
    await writeFile(join(dir, '1', 'model.onnx'), simpleModel());
    files.push(join(dir, '1', 'model.onnx'));
  }
  const plain = await plainSessions(files);
  report.push(`### ${count} generated 1 KB models`, '', '| system | RSS MiB | threads | start → ready s (CPU s) | RSS − plain MiB | bound 1.5 × plain + 60 MiB |', '|---|---|---|---|---|---|');
  row(['plain onnxruntime sessions, one process', mib(plain.rss), plain.threads, '', '', '']);
  for (const system of systems) {
    const server = await startServer(system.root, repo);
    const s = await idleStatus(server.child.pid!);
    await server.stop();
    row([system.name, mib(s.rss), s.threads, `${(server.readyMs / 1000).toFixed(1)} (${server.readyCpuS.toFixed(1)})`, mib(s.rss - plain.rss), `${mib(1.5 * plain.rss + 60 * MIB)} ${s.rss <= 1.5 * plain.rss + 60 * MIB ? 'met' : 'missed'}`]);
  }
  report.push('');
  await rm(repo, { recursive: true, force: true });
}

if (only.has('examples')) {
  const repo = join(here, 'examples', 'models');
  // Every ONNX model the repository serves (handler models have no ONNX file of their own).
  const onnx = (await readdir(repo)).map((m) => join(repo, m, '1', 'model.onnx')).filter((file) => existsSync(file)).sort();
  const plain = await plainSessions(onnx);
  report.push('### examples/models, idle', '', '| system | RSS MiB | threads | start → ready s (CPU s) | RSS − plain MiB | bound plain + 60 MiB |', '|---|---|---|---|---|---|');
  row([`plain onnxruntime sessions (the ${onnx.length} ONNX models)`, mib(plain.rss), plain.threads, '', '', '']);
  for (const system of systems) {
    const server = await startServer(system.root, repo);
    const s = await idleStatus(server.child.pid!);
    await server.stop();
    row([system.name, mib(s.rss), s.threads, `${(server.readyMs / 1000).toFixed(1)} (${server.readyCpuS.toFixed(1)})`, mib(s.rss - plain.rss), `${mib(plain.rss + 60 * MIB)} ${s.rss <= plain.rss + 60 * MIB ? 'met' : 'missed'}`]);
  }
  // The same ONNX models without the handler models (each a thread and an isolate of its own): what
  // the bound leaves for the handlers' threads.
  const onnxOnly = await mkdtemp(join(tmpdir(), 'vireo-examples-onnx-'));
  for (const file of onnx) await cp(dirname(dirname(file)), join(onnxOnly, basename(dirname(dirname(file)))), { recursive: true });
  for (const system of systems) {
    const server = await startServer(system.root, onnxOnly);
    const s = await idleStatus(server.child.pid!);
    await server.stop();
    row([`${system.name}, the ${onnx.length} ONNX models only (no handler models)`, mib(s.rss), s.threads, `${(server.readyMs / 1000).toFixed(1)} (${server.readyCpuS.toFixed(1)})`, mib(s.rss - plain.rss), `${mib(plain.rss + 60 * MIB)} ${s.rss <= plain.rss + 60 * MIB ? 'met' : 'missed'}`]);
  }
  await rm(onnxOnly, { recursive: true, force: true });
  report.push('');
}

if (only.has('cycles')) {
  const cycles = Number(values.cycles);
  const repo = join(here, 'examples', 'models');
  // Growth is given from cycle 1 and from cycle SETTLED: V8 sizes the main thread's heap to the answers'
  // traffic over the first cycles (a one-time step), which counting from cycle 1 folds into "growth".
  const SETTLED = 3;
  report.push(`### ${cycles} load/unload cycles of ocr_rec (explicit mode, ${values.infer} inference calls per cycle)`, '', `| system | RSS loaded, cycle 1 MiB | RSS loaded, cycle ${SETTLED} MiB | RSS loaded, cycle ${cycles} MiB | growth from cycle 1 | growth from cycle ${SETTLED} | of which the main thread's V8 heap and external memory, MiB (cycles 1, ${SETTLED}, ${cycles}) | RSS without them: growth from cycle 1 | threads at the end |`, '|---|---|---|---|---|---|---|---|---|');
  for (const system of systems) {
    const server = await startServer(system.root, repo, ['--model-control-mode', 'explicit']);
    const control = (action: string) => fetch(`${server.url}/v2/repository/models/ocr_rec/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      .then(async (r) => { if (r.status !== 200) throw new Error(`${action}: ${r.status} ${await r.text()}`); });
    let first = 0;
    let firstHeap = 0;
    let settled = 0;
    let settledHeap = 0;
    let last = { rss: 0, threads: 0 };
    let lastHeap = 0;
    for (let c = 1; c <= cycles; c++) {
      await control('load');
      for (let i = 0; i < Number(values.infer); i++) {
        const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 48, 320], datatype: 'FP32', data: new Array(3 * 48 * 320).fill(0.5) }] });
        const r = await fetch(`${server.url}/v2/models/ocr_rec/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        if (r.status !== 200) throw new Error(`infer: ${r.status} ${await r.text()}`);
        await r.arrayBuffer();
      }
      await new Promise((r) => setTimeout(r, 300));
      last = await status(server.child.pid!);
      lastHeap = await mainHeap(server);
      if (c === 1) [first, firstHeap] = [last.rss, lastHeap];
      if (c === SETTLED) [settled, settledHeap] = [last.rss, lastHeap];
      process.stderr.write(`[many-models] ${system.name}: cycle ${c}, RSS ${mib(last.rss)} MiB (main V8 heap + external ${mib(lastHeap)}), ${last.threads} threads\n`);
      await control('unload');
    }
    await server.stop();
    const growth = (from: number) => (from > 0 ? `${(100 * (last.rss / from - 1)).toFixed(1)} %` : '—');
    row([system.name, mib(first), settled > 0 ? mib(settled) : '—', mib(last.rss), growth(first), growth(settled), `${mib(firstHeap)}, ${settled > 0 ? mib(settledHeap) : '—'}, ${mib(lastHeap)}`, `${(100 * ((last.rss - lastHeap) / (first - firstHeap) - 1)).toFixed(1)} %`, last.threads]);
  }
  const plain = await plainCycles(join(repo, 'ocr_rec', '1', 'model.onnx'), cycles, Number(values.infer));
  process.stderr.write(`[many-models] plain session: RSS per cycle ${plain.map(mib).join(' ')} MiB\n`);
  const plainSettled = plain[SETTLED - 1];
  row(['plain onnxruntime session, created, run and released in one Node process', mib(plain[0]!), plainSettled !== undefined ? mib(plainSettled) : '—', mib(plain.at(-1)!), `${(100 * (plain.at(-1)! / plain[0]! - 1)).toFixed(1)} % (highest ${mib(Math.max(...plain))})`, plainSettled !== undefined ? `${(100 * (plain.at(-1)! / plainSettled - 1)).toFixed(1)} %` : '—', '', '', '']);
  report.push('');
}

console.log(report.join('\n'));
