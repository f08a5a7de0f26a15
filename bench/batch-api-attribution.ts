/**
 * Where a real-time model's latency goes beside a batch job (issue 15): per phase, the client's p50 and
 * p99, the server's own statistics per request (queue and compute_infer, from /v2/models/{m}/stats),
 * the main thread's event-loop delay (bench/lib/event-loop-delay-preload.mjs), the share of requests
 * over 10 ms as the client saw them and in each stage of the server's histograms, and per thread the
 * CPU it ran and the time it waited for a core (bench/lib/tail-sources.ts), with no job and with a
 * job, phases alternating. One server, `spin_between_runs: 0`, job work on the background instance;
 * `yield` as the fifth argument sets `batch_job_yield: 1` on both models.
 *
 *   tsx bench/batch-api-attribution.ts [real-time model: mlp|simple] [job model: mlp|simple] [requests/s] [rounds] [yield]
 *
 * `VIREO_SERVER_NODE_ARGS='--v8-pool-size=1'` passes Node flags to the server only (not to this process,
 * which runs the load).
 *
 * `VIREO_ROOT=<another checkout>` runs that checkout's `vireo serve` instead of this one's (node_modules linked).
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { stringify } from 'yaml';
import { mlpModel, simpleModel } from '../tools/modelgen/models.js';
import { freePort } from './lib/processes.js';
import { RawHttpConnection, serializePost } from '../src/perf/raw-http-client.js';
import { scheduleReport, stageHistograms, stageTails, threadSchedules } from './lib/tail-sources.js';
const MLP = [256, 1024, 1024, 64];
const root = await mkdtemp(join(tmpdir(), 'zzat-'));
const parameters = { batch_job_instance: 'own', spin_between_runs: '0', ...(process.argv[6] === 'yield' ? { batch_job_yield: '1' } : {}) };
const dynamic = { max_queue_delay_microseconds: 500 };
for (const [name, model, config] of [['simple', simpleModel(), { max_batch_size: 8, dynamic_batching: dynamic, parameters }], ['mlp', mlpModel(MLP, 3), { max_batch_size: 32, dynamic_batching: dynamic, parameters }]] as const) {
  await mkdir(join(root, 'repo', name, '1'), { recursive: true });
  await writeFile(join(root, 'repo', name, '1', 'model.onnx'), model);
  await writeFile(join(root, 'repo', name, 'config.yaml'), stringify(config));
}
const port = await freePort();
const metricsPort = await freePort();
const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
const serverNodeArgs = (process.env.VIREO_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
const child = spawn(process.execPath, [...serverNodeArgs, '--import', join(import.meta.dirname, 'lib', 'event-loop-delay-preload.mjs'), join(process.env.VIREO_ROOT ?? join(import.meta.dirname, '..'), 'bin', 'vireo.js'), 'serve', '--model-repository', join(root, 'repo'), '--http-port', String(port), '--grpc-port', '-1', '--metrics-port', String(metricsPort), '--batch-dir', join(root, 'b'), '--batch-max-lines', '120000', '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'pipe'] });
const delays: string[] = [];
child.stderr.on('data', (d) => { if (String(d).startsWith('event-loop-delay')) delays.push(String(d).trim()); });
const url = `http://127.0.0.1:${port}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
while (!(await fetch(`${url}/v2/health/ready`).then((r) => r.ok, () => false))) await sleep(200);
const body = (model: string, i: number) => model === 'mlp' ? { inputs: [{ name: 'INPUT', shape: [1, 256], datatype: 'FP32', data: Array.from({ length: 256 }, (_, j) => ((i * 7 + j) % 100) / 100) }] }
  : { inputs: ['INPUT0', 'INPUT1'].map((name, k) => ({ name, shape: [1, 16], datatype: 'INT32', data: Array.from({ length: 16 }, (_, j) => (i + j * (k + 1)) % 100) })) };
const files: Record<string, string> = {};
for (const model of ['simple', 'mlp']) {
  const lines = Array.from({ length: 60000 }, (_, i) => JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: `/v2/models/${model}/infer`, body: body(model, i) }));
  const form = new FormData(); form.set('purpose', 'batch'); form.set('file', new Blob([lines.join('\n')]), 'x.jsonl');
  files[model] = ((await (await fetch(`${url}/v1/files`, { method: 'POST', body: form })).json()) as any).id;
}
async function stats(model: string) {
  const i = ((await (await fetch(`${url}/v2/models/${model}/stats`)).json()) as any).model_stats[0].inference_stats;
  return { n: i.success.count, total: i.success.ns, queue: i.queue.ns, cinf: i.compute_infer.ns };
}
async function openLoop(model: string, rate: number, seconds: number) {
  const target = new URL(`${url}/v2/models/${model}/infer`);
  const bytes = serializePost(target, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify(body(model, 2))));
  const idle: RawHttpConnection[] = []; const lat: number[] = []; const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < rate * seconds; i++) {
    const due = start + (i * 1000) / rate; const wait = due - performance.now(); if (wait > 1) await sleep(wait);
    const c = idle.pop() ?? new RawHttpConnection(target);
    pending.push(c.send(bytes).then(() => { lat.push(performance.now() - due); idle.push(c); }));
  }
  await Promise.all(pending); for (const c of idle) c.close();
  lat.sort((a, b) => a - b);
  return { p50: lat[lat.length >> 1]!, p99: lat[Math.floor(lat.length * 0.99)]!, over10: (100 * lat.filter((ms) => ms > 10).length) / lat.length };
}
const rt = process.argv[2] ?? 'mlp'; const jobModel = process.argv[3] ?? 'mlp'; const rate = Number(process.argv[4] ?? 550); const rounds = Number(process.argv[5] ?? 3);
for (let round = 0; round < rounds; round++) for (const withJob of [false, true]) {
  let id: string | undefined;
  if (withJob) { id = ((await (await fetch(`${url}/v1/batches`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input_file_id: files[jobModel], endpoint: `/v2/models/${jobModel}/infer`, completion_window: '24h' }) })).json()) as any).id; await sleep(1500); }
  const ha = await stageHistograms(metricsUrl, rt); const a = await stats(rt); const sa = threadSchedules(child.pid!);
  child.kill('SIGUSR2'); const l = await openLoop(rt, rate, 4); child.kill('SIGUSR2');
  const sb = threadSchedules(child.pid!); const b = await stats(rt); const hb = await stageHistograms(metricsUrl, rt);
  await sleep(100);
  const n = b.n - a.n; const us = (k: keyof typeof a) => ((b[k] - a[k]) / n / 1000).toFixed(0);
  console.log(`${withJob ? `job on ${jobModel}` : 'no job'}: ${rt} p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(1)} ms | server per request: total ${us('total')} µs, queue ${us('queue')} µs, compute_infer ${us('cinf')} µs | main thread ${delays.at(-1) ?? ''}`);
  console.log(`  over 10 ms: client ${l.over10.toFixed(1)} %; server ${stageTails(ha, hb, 0.01)} | threads: ${scheduleReport(sa, sb, 4, String(child.pid))}`);
  if (id) { await fetch(`${url}/v1/batches/${id}/cancel`, { method: 'POST' }); await sleep(1500); }
}
child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r));
