/**
 * Side-by-side spot check while tuning: `tsx bench/ab.ts <workload> <c,c,...> [rounds] [systems] [config JSON]`
 * runs the naive server and Vireo's variants of one workload at the given concurrencies, interleaved,
 * and prints throughput, p50 and the CPU split per run (no files written). The config JSON is merged
 * into every Vireo model's config, e.g. '{"instance_group":[{"count":1}]}'. The full comparison is
 * `npm run bench -- --only scheduling`.
 */
import { join } from 'node:path';
import { runLoad, startNaive, startVireo } from './lib/processes.js';
import { buildRepository, VARIANTS, workloads } from './lib/workloads.js';

const [name = 'simple', levels = '1', rounds = '1', systems = ['naive', ...VARIANTS].join(','), overrides = '{}'] = process.argv.slice(2);
const workload = workloads(false).find((w) => w.name === name);
if (!workload) throw new Error(`unknown workload ${name}`);
const repo = await buildRepository([workload], join(import.meta.dirname, '..', 'examples', 'models', 'ocr_rec', '1', 'model.onnx'), JSON.parse(overrides) as Record<string, unknown>);
const vireo = await startVireo(repo.root);
const naive = await startNaive(repo.modelFiles);
try {
  for (const c of levels.split(',').map(Number)) {
    for (let round = 0; round < Number(rounds); round++) {
      for (const system of systems.split(',')) {
        const [url, pid] = system === 'naive' ? [`${naive.url}/v2/models/${name}/infer`, naive.child.pid] : [`${vireo.url}/v2/models/${name}_${system}/infer`, vireo.child.pid];
        const r = await runLoad({ url, ...repo.requests[name]!, concurrency: c, warmupMs: workload.warmupMs, durationMs: workload.durationMs }, pid);
        console.log(`${system.padEnd(9)} c=${String(c).padEnd(3)} ${r.throughput.toFixed(0).padStart(6)}/s  p50 ${r.p50.toFixed(3)} p99 ${r.p99.toFixed(3)} ms  cpu main ${r.serverMainCpuPercent?.toFixed(0)} other ${r.serverOtherCpuPercent?.toFixed(0)} gen ${r.clientCpuPercent.toFixed(0)}  errors ${r.errors}${r.firstError ? ` (${r.firstError})` : ''}`);
      }
    }
  }
} finally {
  await naive.stop();
  await vireo.stop();
  await repo.cleanup();
}
