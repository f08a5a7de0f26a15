/**
 * What `vireo tune` shows and writes: the candidates as a table (frontier and best marked), a
 * chart of throughput and p99 per candidate against the SLO, and — only when asked (--write) —
 * the best configuration written into the model's own config file, comments kept, the previous
 * file saved beside it.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { chartGrid } from './svg-chart.js';
import { candidateLabel } from './tune-candidates.js';
import type { CandidateResult, TuneResult } from './tune-runner.js';

const f = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v >= 100 ? String(Math.round(v)) : String(+v.toPrecision(3)));
/** The fields tune changes; everything else in the file stays as it is. */
const TUNED_FIELDS = ['instance_group', 'max_batch_size', 'dynamic_batching'] as const;

function mark(r: CandidateResult, best: CandidateResult | undefined): string {
  return [r === best ? 'best' : '', r.frontier ? 'frontier' : '', r.step && !r.meetsSlo ? 'over SLO' : ''].filter(Boolean).join(', ');
}

export function tuneTable(result: TuneResult): string {
  const header = ['candidate', 'infer/s', 'p50 ms', 'p99 ms', 'queue µs', 'batch', 'note'];
  const rows = result.results.map((r) => [candidateLabel(r.candidate), f(r.step?.inferencesPerSecond), f(r.step?.p50), f(r.step?.p99), f(r.step?.server?.queueUs), f(r.step?.server?.avgBatchSize),
    r.error ? `failed: ${r.error.slice(0, 80)}` : mark(r, result.best)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function tuneChart(result: TuneResult): string {
  const measured = result.results.filter((r) => r.step);
  const xs = measured.map((_, i) => `#${i + 1}`);
  const legend = measured.map((r, i) => `#${i + 1} ${candidateLabel(r.candidate)}${r === result.best ? ' (best)' : ''}`).join('; ');
  return chartGrid([
    { title: `${result.model}: throughput per candidate`, xLabel: 'candidate', yLabel: 'inferences/s', xs, series: [{ name: 'inferences/s', values: measured.map((r) => r.step!.inferencesPerSecond) }] },
    {
      title: `${result.model}: p99 latency per candidate`, xLabel: 'candidate', yLabel: 'ms', xs, logY: true,
      series: [
        { name: 'p99', values: measured.map((r) => r.step!.p99) },
        ...(result.sloP99Ms !== undefined ? [{ name: `SLO ${result.sloP99Ms} ms`, values: measured.map(() => result.sloP99Ms) }] : []),
      ],
    },
  ], 2, `vireo tune at ${result.load}: ${legend}`);
}

/** The best candidate's tuned fields as YAML, for the terminal. */
export function bestSnippet(best: CandidateResult): string {
  return stringify(Object.fromEntries(TUNED_FIELDS.filter((k) => best.config[k] !== undefined).map((k) => [k, best.config[k]])));
}

/**
 * Writes the best candidate's fields into the model's config file (config.yaml when it has none),
 * saving the previous file as `<file>.before-tune`. Returns the path written.
 */
export function writeBest(repository: string, model: string, configFile: string | undefined, best: CandidateResult): string {
  const file = configFile ?? join(resolve(repository), model, 'config.yaml');
  if (configFile) copyFileSync(configFile, `${configFile}.before-tune`);
  if (file.endsWith('.json')) {
    const current = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const key of TUNED_FIELDS) {
      if (best.config[key] === undefined) delete current[key];
      else current[key] = best.config[key];
    }
    writeFileSync(file, `${JSON.stringify(current, null, 2)}\n`);
    return file;
  }
  const document = parseDocument(configFile ? readFileSync(file, 'utf8') : '{}');
  for (const key of TUNED_FIELDS) {
    if (best.config[key] === undefined) document.delete(key);
    else document.set(key, document.createNode(best.config[key], { flow: key !== 'dynamic_batching' }));
  }
  writeFileSync(file, document.toString());
  return file;
}
