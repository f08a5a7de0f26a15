/**
 * Issue 17's response-cache benchmark: the same server and model with and without
 * `--cache-config`, under a workload where half the requests repeat earlier ones (a small hot set)
 * and half are new. Throughput and p50 side by side, for a compute-bound model (ocr_rec) and an
 * overhead-bound one (simple), closed-loop clients at concurrency 1 and 8.
 */
import { join } from 'node:path';
import type { BenchContext, BenchSection, SectionResult } from '../lib/types.js';
import type { LoadResult } from '../lib/load-generator.js';
import { runLoad, startVireo } from '../lib/processes.js';
import { buildRepository, workloads } from '../lib/workloads.js';

const CONCURRENCY = [1, 8];
const CACHE = 'local,size=268435456';
const rootDir = join(import.meta.dirname, '..', '..');

interface Point extends LoadResult { workload: string; cache: boolean; concurrency: number }

async function measure(context: BenchContext): Promise<Point[]> {
  const list = workloads(context.quick).filter((w) => w.name === 'ocr_rec' || w.name === 'simple').map((w) => ({ ...w, wire: 'binary' as const }));
  const repo = await buildRepository(list, join(rootDir, 'examples', 'models', 'ocr_rec', '1', 'model.onnx'), { response_cache: { enable: true } });
  const points: Point[] = [];
  try {
    for (const cache of [false, true]) {
      const server = await startVireo(repo.root, [], cache ? ['--cache-config', CACHE] : []);
      try {
        for (const w of list) {
          for (const concurrency of CONCURRENCY) {
            context.log(`response cache ${cache ? 'on' : 'off'}: ${w.name} at concurrency ${concurrency}`);
            const result = await runLoad({
              url: `${server.url}/v2/models/${w.name}_dynamic/infer`, ...repo.requests[w.name]!, concurrency,
              warmupMs: w.warmupMs, durationMs: w.durationMs,
              // The first element of the first input: right after the JSON header.
              repeats: { byteOffset: Number(repo.requests[w.name]!.headers['inference-header-content-length']), hotSet: 16, datatype: w.inputs[0]!.datatype },
            }, server.child.pid);
            if (result.errors > 0) context.log(`  ${result.errors} errors, first: ${result.firstError}`);
            points.push({ workload: w.name, cache, concurrency, ...result });
          }
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    await repo.cleanup();
  }
  return points;
}

export const section: BenchSection = {
  name: 'response-cache',
  description: 'response cache on vs off, 50 % repeated requests (issue 17)',
  async run(context): Promise<SectionResult> {
    const points = await measure(context);
    const rows: string[] = [];
    for (const workload of ['ocr_rec', 'simple']) {
      for (const concurrency of CONCURRENCY) {
        const off = points.find((p) => p.workload === workload && p.concurrency === concurrency && !p.cache)!;
        const on = points.find((p) => p.workload === workload && p.concurrency === concurrency && p.cache)!;
        rows.push(`| ${workload} | ${concurrency} | ${off.throughput.toFixed(0)} | ${on.throughput.toFixed(0)} | ${(on.throughput / off.throughput).toFixed(2)} × | ${off.p50.toFixed(2)} | ${on.p50.toFixed(2)} |`);
      }
    }
    const markdown = [
      `Half the requests repeat one of 16 hot inputs, half are new (the first element of the binary input varies); dynamic batching; ${context.quick ? 'quick run (`--quick`)' : 'full run'}; one run per point, the two servers one after the other.`,
      `Machine: ${context.machine.cpus} × ${context.machine.cpuModel}, load average at start ${context.machine.loadAverage.map((l) => l.toFixed(2)).join(' / ')} (shared with other jobs).`,
      '',
      '| model | concurrency | req/s, no cache | req/s, cache | ratio | p50 ms, no cache | p50 ms, cache |',
      '|---|---|---|---|---|---|---|',
      ...rows,
      '',
    ].join('\n');
    return { data: { concurrency: CONCURRENCY, cacheConfig: CACHE, points }, markdown };
  },
};
