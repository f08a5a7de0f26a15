/** Markdown tables and the issue's target checks for the scheduling section. */
import { availableParallelism } from 'node:os';
import type { Point, WorkloadResult } from '../sections/scheduling.js';

const SYSTEM_ORDER = ['raw onnxruntime (ceiling)', 'naive server', 'vireo no batching', 'vireo dynamic batching', 'vireo adaptive'];
const f = (v: number | null | undefined, digits = 1) => (v === undefined || v === null || Number.isNaN(v) ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(digits));

export function workloadTable({ workload, points, rawAll }: WorkloadResult): string[] {
  const cs = [...new Set(points.map((p) => p.concurrency))];
  const at = (system: string, c: number) => points.find((p) => p.system === system && p.concurrency === c);
  const best = rawAll.reduce((a, b) => (b.throughput > a.throughput ? b : a));
  const lines = [
    `### ${workload.name} — ${workload.kind}`,
    '',
    `Requests and answers ${workload.wire === 'binary' ? 'in the binary tensor extension (JSON header + raw bytes), for the naive server too' : 'in JSON'}. Throughput in items/s, then p50 / p95 / p99 latency in ms. Vireo runs ${workload.instances} instance(s) of the model. The ceiling runs batches of min(concurrency, ${workload.maxBatchSize}) in-process with ${availableParallelism()} intra-op threads; its best is ${f(best.throughput)} items/s at batch ${best.batch}. Load-generator CPU is % of one core.`,
    '',
    `| system | ${cs.map((c) => `c=${c}`).join(' | ')} | load-gen CPU |`,
    `|---|${cs.map(() => '---').join('|')}|---|`,
  ];
  for (const system of SYSTEM_ORDER) {
    const row = cs.map((c) => {
      const p = at(system, c);
      if (!p) return '–';
      const errors = p.errors ? ` (${p.errors} errors)` : '';
      return `**${f(p.throughput)}**<br>${f(p.p50, 2)} / ${f(p.p95, 2)} / ${f(p.p99, 2)}${errors}`;
    });
    const cpus = cs.map((c) => at(system, c)?.clientCpuPercent).filter((v): v is number => v !== undefined);
    const cpu = cpus.length ? `${f(Math.min(...cpus), 0)}–${f(Math.max(...cpus), 0)} %` : 'in-process';
    lines.push(`| ${system} | ${row.join(' | ')} | ${cpu} |`);
  }
  lines.push('', ...cpuTable(points, cs), '');
  return lines;
}

/** Where the machine's CPU went: server main thread + server's other threads + load generator. */
function cpuTable(points: Point[], cs: number[]): string[] {
  const rows = SYSTEM_ORDER.slice(1).map((system) => {
    const cells = cs.map((c) => {
      const p = points.find((x) => x.system === system && x.concurrency === c);
      if (p?.serverMainCpuPercent === undefined || p.serverOtherCpuPercent === undefined) return '–';
      const total = p.serverMainCpuPercent + p.serverOtherCpuPercent + (p.clientCpuPercent ?? 0);
      return `${f(p.serverMainCpuPercent, 0)} + ${f(p.serverOtherCpuPercent, 0)} + ${f(p.clientCpuPercent, 0)} = ${f(total, 0)}`;
    });
    return `| ${system} | ${cells.join(' | ')} |`;
  });
  if (rows.every((r) => !/\d/.test(r.replace(/^\|[^|]*\|/, '')))) return [];
  return [
    `CPU in % of one core (the machine has ${availableParallelism()} × 100 %): server main thread + server's other threads (instance workers, onnxruntime) + load generator.`,
    '',
    `| system | ${cs.map((c) => `c=${c}`).join(' | ')} |`,
    `|---|${cs.map(() => '---').join('|')}|`,
    ...rows,
  ];
}

export interface TargetCheck { target: string; measured: string; met: boolean }

function bestVireo(points: Point[], c: number, by: (p: Point) => number, lowerIsBetter = false): Point | undefined {
  const candidates = points.filter((p) => p.concurrency === c && p.system.startsWith('vireo') && !p.errors);
  return candidates.sort((a, b) => (lowerIsBetter ? by(a) - by(b) : by(b) - by(a)))[0];
}

export function targetChecks(results: WorkloadResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const get = (name: string) => results.find((r) => r.workload.name === name);
  const ceiling = (r: WorkloadResult) => Math.max(...r.rawAll.map((p) => p.throughput));
  const naiveAt = (r: WorkloadResult, c: number) => r.points.find((p) => p.system === 'naive server' && p.concurrency === c);
  const mlp = get('mlp');
  if (mlp) {
    const v = bestVireo(mlp.points, 32, (p) => p.throughput);
    const n = naiveAt(mlp, 32);
    if (v && n) {
      const ratio = v.throughput / ceiling(mlp);
      checks.push({ target: 'MLP: Vireo ≥ 0.8 × ceiling', measured: `${v.system}: ${f(v.throughput)} / ${f(ceiling(mlp))} = ${ratio.toFixed(2)} ×`, met: ratio >= 0.8 });
      const vsNaive = v.throughput / n.throughput;
      checks.push({ target: 'MLP: Vireo ≥ 8 × naive server', measured: `${f(v.throughput)} / ${f(n.throughput)} = ${vsNaive.toFixed(1)} ×`, met: vsNaive >= 8 });
    }
  }
  const ocr = get('ocr_rec');
  if (ocr) {
    const v = bestVireo(ocr.points, 32, (p) => p.throughput);
    const n = naiveAt(ocr, 32);
    if (v && n) {
      const ratio = v.throughput / ceiling(ocr);
      checks.push({ target: 'ocr_rec: Vireo ≥ 0.9 × ceiling', measured: `${v.system}: ${f(v.throughput)} / ${f(ceiling(ocr))} = ${ratio.toFixed(2)} ×`, met: ratio >= 0.9 });
      const worst = Math.min(...ocr.points.filter((p) => p.system.startsWith('vireo') && p.system !== 'vireo no batching').map((p) => p.throughput / (naiveAt(ocr, p.concurrency)?.throughput ?? Infinity)));
      checks.push({ target: 'ocr_rec: Vireo (batching) never below the naive server', measured: `worst ratio over all concurrencies ${worst.toFixed(2)} ×`, met: worst >= 1 });
    }
  }
  const simple = get('simple');
  if (simple) {
    const v = bestVireo(simple.points, 1, (p) => p.p50, true);
    const n = naiveAt(simple, 1);
    if (v && n) {
      const delta = (v.p50 - n.p50) * 1000;
      checks.push({ target: 'simple, c=1: Vireo p50 ≤ naive p50 + 100 µs', measured: `${v.system}: ${f(v.p50, 3)} ms vs ${f(n.p50, 3)} ms (${delta >= 0 ? '+' : ''}${delta.toFixed(0)} µs)`, met: delta <= 100 });
    }
  }
  return checks;
}
