/**
 * Side-by-side spot check while tuning: `tsx bench/ab.ts <workload> <c,c,...> [rounds] [systems] [config JSON]`
 * runs the naive server and Vireo's variants of one workload at the given concurrencies, interleaved,
 * and prints throughput, p50 and the CPU split per run (no files written). The config JSON is merged
 * into every Vireo model's config, e.g. '{"instance_group":[{"count":1}]}'. The full comparison is
 * `npm run bench -- --only scheduling`.
 *
 * With VIREO_AB_BASELINE=<another checkout> (e.g. `git worktree add /tmp/vireo-base <commit>`, its
 * node_modules installed or linked), the same repository is also served by that checkout's Vireo and
 * systems named `base-<variant>` run against it, interleaved with this checkout's.
 */
import { join } from 'node:path';
import { USABLE_CORES } from '../src/core/cpu-budget.js';
import { runLoad, runRaw, startNaive, startVireo } from './lib/processes.js';
import type { RawPoint } from './lib/raw-ort.js';
import { buildRepository, VARIANTS, workloads } from './lib/workloads.js';

type Counts = Map<number, { count: number; ns: number }>;
interface Duration { count: number; ns: number }
const PHASES = ['queue', 'compute_input', 'compute_infer', 'compute_output'] as const;
type Phases = Record<(typeof PHASES)[number] | 'success', Duration>;
interface Snapshot { batches: Counts; phases: Phases }
async function snapshot(url: string, model: string): Promise<Snapshot> {
  const stats = await (await fetch(`${url}/v2/models/${model}/stats`)).json() as { model_stats: { inference_stats: Phases; batch_stats: { batch_size: number; compute_infer: Duration }[] }[] };
  const own = stats.model_stats[0]!;
  return { batches: new Map(own.batch_stats.map((b) => [b.batch_size, b.compute_infer])), phases: own.inference_stats };
}
/**
 * The statistics' mean time per request in each phase between two snapshots (µs), and how much of
 * it lies beyond onnxruntime's own run of one request (issue 20's second bound for `simple`).
 */
function phaseLine(before: Phases, after: Phases, rawRunUs: number): string {
  const requests = after.success.count - before.success.count;
  const us = (phase: keyof Phases) => (after[phase].ns - before[phase].ns) / requests / 1e3;
  const served = us('compute_input') + us('compute_infer') + us('compute_output');
  return `per request (µs): ${PHASES.map((p) => `${p} ${us(p).toFixed(1)}`).join(' ')}; input+infer+output beyond onnxruntime's run (${rawRunUs.toFixed(1)}) ${(served - rawRunUs).toFixed(1)}`;
}
/** The batch sizes run between two snapshots, with the mean compute time of each. */
function batchHistogram(before: Counts, after: Counts): string {
  return [...after].map(([size, { count, ns }]) => [size, count - (before.get(size)?.count ?? 0), ns - (before.get(size)?.ns ?? 0)] as const)
    .filter(([, count]) => count > 0).map(([size, count, ns]) => `${size}×${count} (${(ns / count / 1e6).toFixed(3)} ms)`).join(' ');
}

const [name = 'simple', levels = '1', rounds = '1', systems = ['naive', ...VARIANTS].join(','), overrides = '{}'] = process.argv.slice(2);
const workload = workloads(false).find((w) => w.name === name);
if (!workload) throw new Error(`unknown workload ${name}`);
const repo = await buildRepository([workload], join(import.meta.dirname, '..', 'examples', 'models', 'ocr_rec', '1', 'model.onnx'), JSON.parse(overrides) as Record<string, unknown>);
const vireo = await startVireo(repo.root);
const baseline = process.env.VIREO_AB_BASELINE ? await startVireo(repo.root, [], [], process.env.VIREO_AB_BASELINE) : undefined;
const naive = await startNaive(repo.modelFiles);
// onnxruntime's own run of one request in a plain process: p50 of back-to-back calls, the faster of one
// intra-op thread and one per core (Vireo's instances use either), so what lies beyond it is not understated.
// One after the other: side by side they would share the cores.
const raws: (RawPoint & { threads: number })[] = [];
for (const threads of [1, USABLE_CORES]) {
  raws.push({ threads, ...(await runRaw({ modelPath: repo.modelFiles[name]!, inputs: workload.rawInputs, batchSizes: [1], durationMs: 3000, intraOpThreads: threads }))[0]! });
}
const raw = raws.reduce((a, b) => (b.p50 < a.p50 ? b : a));
const rawRunUs = raw.p50 * 1e3;
console.log(`raw onnxruntime, one request per run: p50 ${raws.map((r) => `${(r.p50 * 1e3).toFixed(1)} µs (${r.threads} thread${r.threads > 1 ? 's' : ''})`).join(', ')}`);
try {
  for (const c of levels.split(',').map(Number)) {
    for (let round = 0; round < Number(rounds); round++) {
      for (const system of systems.split(',')) {
        const server = system.startsWith('base-') ? baseline : vireo;
        if (!server) throw new Error(`${system}: set VIREO_AB_BASELINE to a checkout to compare against`);
        const variant = system.replace(/^base-/, '');
        const [url, pid] = system === 'naive' ? [`${naive.url}/v2/models/${name}/infer`, naive.child.pid] : [`${server.url}/v2/models/${name}_${variant}/infer`, server.child.pid];
        const before = system === 'naive' ? undefined : await snapshot(server.url, `${name}_${variant}`);
        const r = await runLoad({ url, ...repo.requests[name]!, concurrency: c, warmupMs: workload.warmupMs, durationMs: workload.durationMs }, pid);
        console.log(`${system.padEnd(9)} c=${String(c).padEnd(3)} ${r.throughput.toFixed(0).padStart(6)}/s  p50 ${r.p50.toFixed(3)} p99 ${r.p99.toFixed(3)} ms  cpu main ${r.serverMainCpuPercent?.toFixed(0)} other ${r.serverOtherCpuPercent?.toFixed(0)} gen ${r.clientCpuPercent.toFixed(0)}  errors ${r.errors}${r.firstError ? ` (${r.firstError})` : ''}`);
        if (before) {
          const after = await snapshot(server.url, `${name}_${variant}`);
          console.log(`          batches (size×count, warm-up included): ${batchHistogram(before.batches, after.batches)}`);
          console.log(`          ${phaseLine(before.phases, after.phases, rawRunUs)}`);
        }
      }
    }
  }
} finally {
  await naive.stop();
  await vireo.stop();
  await baseline?.stop();
  await repo.cleanup();
}
