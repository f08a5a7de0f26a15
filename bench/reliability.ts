/**
 * Reliability figures for the README (a separate `vireo serve` process each, loopback clients):
 *  1. BYTES bound: one ModelInfer of 10.5 M one-byte BYTES elements (~31 MB) — time to the refusal,
 *     health Check latency meanwhile — and a request at the bound (131,072 elements).
 *  2. Overload: a burst of 10× the default queue bound on a one-instance model over one gRPC
 *     channel — answered, refused, refusal and answer latency, server RSS.
 *  3. Drain: SIGTERM under load from keep-alive HTTP (undici) and gRPC clients — time to exit,
 *     exit code, answered / refused / failed.
 *
 * Usage: tsx bench/reliability.ts [--burst-factor 10] [--load-ms 2000]
 * The fuzz figures come from `VIREO_FUZZ_CASES=500 node --import tsx --test test/e2e/fuzz.test.ts`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_BYTES_LIMITS } from '../src/core/bytes-limits.js';
import { startServeChild, type ServeChild } from '../test/helpers/fuzz.js';
import { grpc, healthClient, tritonClient } from '../test/helpers/grpc.js';
import { INFER_PATH, frame, pb, rawCall, rawSession } from '../test/helpers/raw-grpc.js';
import { makeRepository } from '../test/helpers/repository.js';
import { identityModel, slowIdentityModel } from '../tools/modelgen/models.js';

const { values: args } = parseArgs({ options: { 'burst-factor': { type: 'string', default: '10' }, 'load-ms': { type: 'string', default: '2000' } } });
const BURST_FACTOR = Number(args['burst-factor']);
const LOAD_MS = Number(args['load-ms']);
const N = 64;
const MB = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;
const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN);
const ms = (v: number) => `${v.toFixed(1)} ms`;

/** CPU time (user + system) the process has used, in ms: robust to a busy machine, unlike wall time. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function typedBytesRequest(count: number): Buffer {
  const element = pb.bytes(8, 'a');
  const contents = Buffer.alloc(element.length * count);
  for (let i = 0; i < count; i++) element.copy(contents, i * element.length);
  const input = pb.message(5, pb.bytes(1, 'INPUT'), pb.bytes(2, 'BYTES'), pb.int(3, 1), pb.int(3, count), pb.bytes(5, contents));
  return Buffer.concat([pb.bytes(1, 'identity_bytes'), input]);
}

/** Health Check round trips, back to back, until `done` settles; returns their latencies. */
async function healthDuring(child: ServeChild, done: Promise<unknown>): Promise<number[]> {
  const health = healthClient(child.grpcUrl);
  const latencies: number[] = [];
  let finished = false;
  void done.finally(() => { finished = true; });
  while (!finished) {
    const t0 = performance.now();
    await health.call('Check', { service: '' });
    latencies.push(performance.now() - t0);
  }
  health.close();
  return latencies.sort((a, b) => a - b);
}

async function bytesBound(child: ServeChild): Promise<string[]> {
  const session = rawSession(child.grpcUrl);
  const rows: string[] = [];
  for (const [label, count] of [['10.5 M elements (~31 MB)', 10_500_000], [`${DEFAULT_BYTES_LIMITS.maxElements} elements (the bound)`, DEFAULT_BYTES_LIMITS.maxElements]] as const) {
    const body = frame(typedBytesRequest(count));
    const rssBefore = child.rssBytes();
    const cpuBefore = cpuMs(child.pid);
    const t0 = performance.now();
    const call = rawCall(session, INFER_PATH, body, {}, 120_000).then((a) => ({ ...a, ms: performance.now() - t0 }));
    const health = await healthDuring(child, call);
    const answer = await call;
    rows.push(`| ${label} | ${answer.status === 0 ? 'answered' : grpc.status[answer.status]} | ${ms(answer.ms)} | ${cpuMs(child.pid) - cpuBefore} ms | ${health.length} | ${ms(quantile(health, 0.5))} / ${ms(health.at(-1) ?? NaN)} | ${MB(rssBefore)} → ${MB(child.rssBytes())} |`);
  }
  session.close();
  return ['| request (typed bytes_contents, gRPC) | outcome | time to answer | server CPU | health checks meanwhile | their p50 / max | server RSS |', '|---|---|---|---|---|---|---|', ...rows];
}

async function overload(child: ServeChild, model: string, label: string): Promise<string[]> {
  const client = tritonClient(child.grpcUrl);
  const bound = 256;
  const count = BURST_FACTOR * bound;
  const values = Array.from({ length: N }, (_, j) => j % 31);
  const rssBefore = child.rssBytes();
  const cpuBefore = cpuMs(child.pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, child.rssBytes()); }, 50);
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: count }, () => {
    const start = performance.now();
    return client.call('ModelInfer', { model_name: model, inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, N], contents: { fp32_contents: values } }] })
      .then(() => ({ ok: true, ms: performance.now() - start }), (e: grpc.ServiceError) => ({ ok: false, code: e.code, ms: performance.now() - start }));
  }));
  const wall = performance.now() - t0;
  clearInterval(sampler);
  client.close();
  const refused = results.filter((r) => !r.ok).map((r) => r.ms).sort((a, b) => a - b);
  const answered = results.filter((r) => r.ok).map((r) => r.ms).sort((a, b) => a - b);
  const codes = [...new Set(results.filter((r) => !r.ok).map((r) => grpc.status[(r as { code: number }).code]))].join(', ');
  return [
    `| ${label} | ${count} | ${ms(wall)} | ${cpuMs(child.pid) - cpuBefore} ms | ${answered.length} | ${ms(quantile(answered, 0.5))} / ${ms(quantile(answered, 0.99))} | ${refused.length} ${codes ? `(${codes})` : ''} | ${ms(quantile(refused, 0.5))} / ${ms(quantile(refused, 0.99))} | ${MB(rssBefore)} / ${MB(rssPeak)} |`,
  ];
}

async function drain(child: ServeChild): Promise<string[]> {
  const client = tritonClient(child.grpcUrl);
  const body = JSON.stringify({ inputs: [{ name: 'INPUT', shape: [1, N], datatype: 'FP32', data: Array.from({ length: N }, (_, j) => j % 31) }] });
  const counts = { answered: 0, refused: 0, failed: 0 };
  let signalled = false;
  const httpLoop = async () => {
    for (;;) {
      try {
        const r = await fetch(`${child.url}/v2/models/slow/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await r.arrayBuffer();
        if (r.status === 200) counts.answered++;
        else if (r.status === 503) { counts.refused++; return; }
        else { counts.failed++; return; }
        if (r.headers.get('connection') === 'close') return;
      } catch (error) {
        if (((error as { cause?: { code?: string } }).cause?.code) === 'ECONNREFUSED') counts.refused++;
        else counts.failed++;
        return;
      }
    }
  };
  const grpcLoop = async () => {
    for (;;) {
      try {
        await client.call('ModelInfer', { model_name: 'slow', inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, N], contents: { fp32_contents: Array.from({ length: N }, (_, j) => j % 31) } }] });
        counts.answered++;
      } catch (error) {
        if ((error as grpc.ServiceError).code === grpc.status.UNAVAILABLE) counts.refused++;
        else counts.failed++;
        return;
      }
      if (signalled && counts.refused > 100_000) return;
    }
  };
  const loops = [...Array.from({ length: 8 }, httpLoop), ...Array.from({ length: 8 }, grpcLoop)];
  await new Promise((r) => setTimeout(r, LOAD_MS));
  const t0 = performance.now();
  signalled = true;
  const code = await child.stop();
  const exitMs = performance.now() - t0;
  await Promise.all(loops);
  client.close();
  const drained = child.lines.map((l) => { try { return JSON.parse(l) as { msg?: string; drainMs?: number }; } catch { return {}; } }).find((l) => l.msg?.startsWith('drained'));
  return [
    `8 keep-alive HTTP (undici) and 8 gRPC client loops on a one-instance model for ${LOAD_MS} ms, then SIGTERM:`,
    '',
    '| SIGTERM → exit | drain (server log) | exit code | answered | refused (503 / UNAVAILABLE / connection refused) | failed |',
    '|---|---|---|---|---|---|',
    `| ${ms(exitMs)} | ${drained?.drainMs ?? '—'} ms | ${code} | ${counts.answered} | ${counts.refused} | ${counts.failed} |`,
  ];
}

function slowConfig(extra: Record<string, unknown> = {}) {
  return { max_batch_size: 1, instance_group: [{ count: 1, kind: 'KIND_CPU' }], parameters: { intra_op_threads: 1 }, ...extra };
}

const repo = await makeRepository({
  identity_bytes: { versions: { 1: identityModel('STRING') } },
  slow: { config: slowConfig(), versions: { 1: slowIdentityModel(N, 256, 20) } },
  slow_unbounded: { config: slowConfig({ dynamic_batching: { default_queue_policy: { max_queue_size: 0 } } }), versions: { 1: slowIdentityModel(N, 256, 20) } },
});
try {
  const out: string[] = ['### BYTES bound', ''];
  let child = await startServeChild(repo.root);
  out.push(...await bytesBound(child), '', '### Overload', '',
    `Concurrent ModelInfer calls, ${BURST_FACTOR}× the default queue bound (256), on a one-instance model over one gRPC channel:`, '',
    '| queue | calls | all done in | server CPU | answered | answer p50 / p99 | refused | refusal p50 / p99 | server RSS before / peak |',
    '|---|---|---|---|---|---|---|---|---|',
    ...await overload(child, 'slow', 'default bound (auto: 256)'),
    ...await overload(child, 'slow_unbounded', 'unbounded (`max_queue_size: 0` in the config)'), '');
  await child.stop();
  child = await startServeChild(repo.root);
  out.push('### Drain under load', '', ...await drain(child));
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  await repo.cleanup();
}
