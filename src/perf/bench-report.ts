/**
 * What `vireo bench` prints and writes: a table per run, JSON or CSV results, and a chart
 * (throughput and p99 against load; SVG, or an HTML page holding the SVG and the table).
 */
import { chartGrid } from './svg-chart.js';
import type { StepResult } from './load-step.js';

export interface BenchRun {
  model: string;
  url: string;
  protocol: string;
  wire: string;
  batchSize: number;
  percentile: number;
  startedAt: string;
  steps: BenchStep[];
}

/** A step with the percentile asked for (--percentile) and throughput in inferences per second. */
export interface BenchStep extends StepResult {
  inferencesPerSecond: number;
  /** The latency at --percentile, in ms. */
  pctl: number;
}

const f = (v: number | undefined, digits = 3) => (v === undefined || !Number.isFinite(v) ? '-' : v >= 100 ? String(Math.round(v)) : String(+v.toPrecision(digits)));

export function levelName(step: StepResult): string {
  return step.mode === 'concurrency' ? `concurrency ${step.level}` : `${step.level} req/s`;
}

export function stepLine(step: BenchStep, percentile: number): string {
  const server = step.server
    ? ` | server: queue ${f(step.server.queueUs)} µs, input ${f(step.server.computeInputUs)} µs, infer ${f(step.server.computeInferUs)} µs, output ${f(step.server.computeOutputUs)} µs, batch ${f(step.server.avgBatchSize)}`
    : '';
  return `${levelName(step)}: ${f(step.inferencesPerSecond)} infer/s, p50 ${f(step.p50)} ms, p90 ${f(step.p90)} ms, p95 ${f(step.p95)} ms, p99 ${f(step.p99)} ms, ${[50, 90, 95, 99].includes(percentile) ? '' : `p${percentile} ${f(step.pctl)} ms, `}errors ${step.errors}${step.delayed ? `, delayed ${step.delayed}` : ''}${step.stable ? '' : ' (not stable)'}${server}`;
}

const COLUMNS = ['mode', 'level', 'inferences_per_s', 'requests', 'errors', 'delayed', 'p50_ms', 'p90_ms', 'p95_ms', 'p99_ms', 'pctl_ms', 'mean_ms', 'stable', 'windows',
  'server_queue_us', 'server_compute_input_us', 'server_compute_infer_us', 'server_compute_output_us', 'server_total_us', 'server_avg_batch'];

function row(step: BenchStep): (string | number | boolean)[] {
  const s = step.server;
  return [step.mode, step.level, step.inferencesPerSecond, step.requests, step.errors, step.delayed, step.p50, step.p90, step.p95, step.p99, step.pctl, step.mean, step.stable, step.windows,
    s?.queueUs ?? '', s?.computeInputUs ?? '', s?.computeInferUs ?? '', s?.computeOutputUs ?? '', s?.totalUs ?? '', s?.avgBatchSize ?? ''];
}

export function toCsv(run: BenchRun): string {
  return [COLUMNS.join(','), ...run.steps.map((s) => row(s).map((v) => (typeof v === 'number' ? +v.toPrecision(6) : v)).join(','))].join('\n') + '\n';
}

export function table(run: BenchRun): string {
  const header = ['load', 'infer/s', 'p50 ms', 'p90 ms', 'p95 ms', 'p99 ms', 'errors', 'queue µs', 'infer µs', 'batch'];
  const rows = run.steps.map((s) => [levelName(s), f(s.inferencesPerSecond), f(s.p50), f(s.p90), f(s.p95), f(s.p99), String(s.errors), f(s.server?.queueUs), f(s.server?.computeInferUs), f(s.server?.avgBatchSize)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function chartSvg(run: BenchRun): string {
  const xs = run.steps.map((s) => s.level);
  const xLabel = run.steps[0]?.mode === 'request-rate' ? 'offered load (requests/s)' : 'concurrency (requests outstanding)';
  return chartGrid([
    { title: `${run.model}: throughput`, xLabel, yLabel: 'inferences/s', xs, series: [{ name: 'inferences/s', values: run.steps.map((s) => s.inferencesPerSecond) }] },
    {
      title: `${run.model}: latency`, xLabel, yLabel: 'ms', xs, logY: true,
      series: [
        { name: 'p50', values: run.steps.map((s) => s.p50) },
        { name: 'p99', values: run.steps.map((s) => s.p99) },
        { name: 'server queue', values: run.steps.map((s) => (s.server ? s.server.queueUs / 1000 : undefined)) },
      ],
    },
  ], 2, `vireo bench -m ${run.model} (${run.protocol}, ${run.wire}, batch ${run.batchSize}) against ${run.url}, ${run.startedAt}`);
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A standalone page: the chart, then the table (no script, nothing fetched). */
export function chartHtml(run: BenchRun, svg = chartSvg(run)): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vireo bench: ${escape(run.model)}</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5rem;color:#1d2330}pre{background:#f3f4f6;padding:.6rem}</style></head>
<body><h1>vireo bench: ${escape(run.model)}</h1>
${svg}
<pre>${escape(table(run))}</pre>
</body></html>
`;
}
