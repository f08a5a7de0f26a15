/**
 * Issue 4's benchmark: three workloads, single-item requests at concurrency 1…64, for raw
 * onnxruntime (the ceiling), a naive server, and Vireo without batching, with Triton dynamic
 * batching and with adaptive batching, measured side by side in one run (systems interleaved per
 * concurrency level so background load hits them alike). The load generator is its own process.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import type { BenchContext, BenchSection, SectionResult } from '../lib/types.js';
import type { LoadResult } from '../lib/load-generator.js';
import type { RawPoint } from '../lib/raw-ort.js';
import { runLoad, runRaw, startNaive, startVireo } from '../lib/processes.js';
import { chartGrid, type ChartSpec } from '../../src/perf/svg-chart.js';
import { VARIANTS, buildRepository, workloads, type Workload } from '../lib/workloads.js';
import { targetChecks, workloadTable } from '../lib/scheduling-report.js';

export const CONCURRENCY = [1, 4, 16, 32, 64];
export const SYSTEMS = ['raw onnxruntime (ceiling)', 'naive server', 'vireo no batching', 'vireo dynamic batching', 'vireo adaptive'] as const;

export interface Point extends Partial<LoadResult> {
  system: string; concurrency: number; throughput: number; p50: number; p95: number; p99: number; rawBatch?: number;
  /** Throughput of every round, lowest first (the point is the median round). */
  rounds?: number[];
}
export interface WorkloadResult { workload: Workload; points: Point[]; rawAll: RawPoint[] }

const rootDir = join(import.meta.dirname, '..', '..');

/**
 * Every (system, concurrency) point is measured ROUNDS times, the rounds interleaved, and the round
 * with the median throughput is reported whole (its latencies and CPU with it): a burst of
 * background load on the shared machine then moves one round, not the result.
 */
const ROUNDS = process.argv.includes('--rounds') ? Number(process.argv[process.argv.indexOf('--rounds') + 1]) : 3;

function medianRounds(rounds: Point[][]): Point[] {
  return rounds[0]!.map(({ system }) => {
    const runs = rounds.map((r) => r.find((p) => p.system === system)!).sort((a, b) => a.throughput - b.throughput);
    return { ...runs[Math.floor((runs.length - 1) / 2)]!, rounds: runs.map((p) => p.throughput) };
  });
}

async function runWorkloads(context: BenchContext, profileDir: string | undefined): Promise<WorkloadResult[]> {
  const list = workloads(context.quick);
  const repo = await buildRepository(list, join(rootDir, 'examples', 'models', 'ocr_rec', '1', 'model.onnx'));
  const results: WorkloadResult[] = [];
  const vireo = await startVireo(repo.root, profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []);
  const naive = await startNaive(repo.modelFiles);
  try {
    for (const w of list) {
      const points: Point[] = [];
      const rawAll: RawPoint[] = [];
      for (const c of CONCURRENCY) {
        const rounds: Point[][] = [];
        for (let round = 1; round <= ROUNDS; round++) {
          const measured: Point[] = [];
          // The ceiling is measured in every round too, right before the servers, so all five see
          // the same background load (the machine is shared).
          context.log(`${w.name}: round ${round}/${ROUNDS}, raw onnxruntime at batch ${Math.min(c, w.maxBatchSize)}`);
          const [raw] = await runRaw({ modelPath: repo.modelFiles[w.name]!, inputs: w.rawInputs, batchSizes: [Math.min(c, w.maxBatchSize)], durationMs: w.durationMs / 2, intraOpThreads: availableParallelism() });
          rawAll.push(raw!);
          measured.push({ system: SYSTEMS[0], concurrency: c, throughput: raw!.throughput, p50: raw!.p50, p95: raw!.p95, p99: raw!.p99, rawBatch: raw!.batch });
          const targets: [string, string, number | undefined][] = [
            [SYSTEMS[1], `${naive.url}/v2/models/${w.name}/infer`, naive.child.pid],
            ...VARIANTS.map((v, i): [string, string, number | undefined] => [SYSTEMS[2 + i]!, `${vireo.url}/v2/models/${w.name}_${v}/infer`, vireo.child.pid]),
          ];
          for (const [system, url, pid] of targets) {
            context.log(`${w.name}: round ${round}/${ROUNDS}, ${system} at concurrency ${c}`);
            const result = await runLoad({ url, ...repo.requests[w.name]!, concurrency: c, warmupMs: w.warmupMs, durationMs: w.durationMs }, pid);
            if (result.errors > 0) context.log(`  ${result.errors} errors, first: ${result.firstError}`);
            measured.push({ system, concurrency: c, ...result });
          }
          rounds.push(measured);
        }
        points.push(...medianRounds(rounds));
      }
      results.push({ workload: w, points, rawAll });
      // Saved as it goes, so a failure later (or `--report-only`) loses no measurement.
      await writeFile(join(context.resultsDir, 'scheduling.raw.json'), JSON.stringify(results));
    }
  } finally {
    await naive.stop();
    await vireo.stop();
    await repo.cleanup();
  }
  return results;
}

function charts(results: WorkloadResult[]): ChartSpec[] {
  return results.flatMap(({ workload, points }) => {
    const series = (metric: 'throughput' | 'p99') => SYSTEMS.map((system) => ({
      name: system,
      values: CONCURRENCY.map((c) => points.find((p) => p.system === system && p.concurrency === c)?.[metric]),
    }));
    return [
      { title: `${workload.name}: throughput`, xLabel: 'concurrency', yLabel: 'items/s', xs: CONCURRENCY, series: series('throughput') },
      { title: `${workload.name}: p99 latency`, xLabel: 'concurrency', yLabel: 'ms (log)', xs: CONCURRENCY, series: series('p99'), logY: true },
    ];
  });
}

export const section: BenchSection = {
  name: 'scheduling',
  description: 'dynamic batching vs raw onnxruntime, a naive server and Vireo without batching (issue 4)',
  async run(context): Promise<SectionResult> {
    const profileDir = process.argv.includes('--profile') ? join(context.resultsDir, 'profiles') : undefined;
    const results: WorkloadResult[] = process.argv.includes('--report-only')
      ? JSON.parse(await readFile(join(context.resultsDir, 'scheduling.raw.json'), 'utf8'))
      : await runWorkloads(context, profileDir);
    const checks = targetChecks(results);
    const markdown = [
      `Single-item requests, closed loop, load generator in its own process; ${context.quick ? 'quick run (`--quick`)' : 'full run'}; each point is the median of ${ROUNDS} interleaved round(s).`,
      `Machine: ${context.machine.cpus} × ${context.machine.cpuModel}, load average at start ${context.machine.loadAverage.map((l) => l.toFixed(2)).join(' / ')} (shared with other jobs).`,
      '',
      ...results.flatMap((r) => workloadTable(r)),
      '### Targets (concurrency 32; overhead at concurrency 1)',
      '',
      '| target | measured | met |',
      '|---|---|---|',
      ...checks.map((c) => `| ${c.target} | ${c.measured} | ${c.met ? 'yes' : '**no**'} |`),
      '',
    ].join('\n');
    const data = { concurrency: CONCURRENCY, results: results.map((r) => ({ workload: r.workload.name, kind: r.workload.kind, points: r.points, raw: r.rawAll })), checks };
    return { data, markdown, charts: { 'scheduling.svg': chartGrid(charts(results), 2, `Vireo scheduling benchmark, ${context.machine.date}`) } };
  },
};
