/**
 * The scrape passes `promtool check metrics` (promtool is not installed here, so its lint rules,
 * prometheus/client_golang testutil/promlint, are applied by this independent reader): every
 * family has help, counters end in _total and nothing else does, names are snake_case without
 * colons, type names or abbreviated units, and only histograms and summaries use their reserved
 * suffixes and labels.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { VireoMetrics } from '../../src/metrics/vireo-metrics.js';
import { parsePrometheusText } from '../helpers/prom-text.js';

/** promlint's lint rules over parsed families; returns the problems, as promtool prints them. */
function lint(families: { name: string; help?: string; type?: string; samples: { name: string; labels: Record<string, string> }[] }[]): string[] {
  const problems: string[] = [];
  for (const f of families) {
    const type = f.type ?? 'untyped';
    if (!f.help) problems.push(`${f.name}: no help text`);
    if (type === 'counter' && !f.name.endsWith('_total')) problems.push(`${f.name}: counter metrics should have "_total" suffix`);
    if (type !== 'counter' && f.name.endsWith('_total')) problems.push(`${f.name}: non-counter metrics should not have "_total" suffix`);
    if (/[A-Z]/.test(f.name)) problems.push(`${f.name}: metric names should be written in 'snake_case' not 'camelCase'`);
    if (f.name.includes(':')) problems.push(`${f.name}: metric names should not contain ':'`);
    if (/_(gauge|counter|histogram|summary)(_|$)/.test(f.name)) problems.push(`${f.name}: metric name should not include type`);
    if (/_(ms|us|ns|secs?|kb|mb|gb|kib|mib|gib)(_|$)/.test(f.name)) problems.push(`${f.name}: use base units, not abbreviations`);
    if (type !== 'histogram' && type !== 'summary') {
      if (/_(bucket|count|sum)$/.test(f.name)) problems.push(`${f.name}: non-histogram and non-summary metrics should not have a reserved suffix`);
      for (const s of f.samples) {
        if ('le' in s.labels) problems.push(`${f.name}: non-histogram metrics should not have "le" label`);
        if ('quantile' in s.labels) problems.push(`${f.name}: non-summary metrics should not have "quantile" label`);
      }
    }
  }
  return problems;
}

it('a real scrape, default metrics included, has no promtool lint problem', async () => {
  const metrics = new VireoMetrics();
  metrics.protocolRequest('http', 'POST /v2/models/:model/infer', 200);
  metrics.rejectedRequest('http', 'request_malformed');
  const families = [...parsePrometheusText(await metrics.text()).values()];
  assert.ok(families.length > 20, `${families.length} families`);
  assert.deepEqual(lint(families), []);
  assert.ok(families.some((f) => f.name === 'nodejs_active_handles'), 'the per-type gauges stay');
  assert.ok(families.some((f) => f.name === 'process_cpu_seconds_total' && f.type === 'counter'));
});

it('the lint catches what promtool catches', () => {
  const problems = lint([
    { name: 'a_total', type: 'gauge', help: 'x', samples: [] },
    { name: 'b', type: 'counter', help: 'x', samples: [] },
    { name: 'c_latency_ms', type: 'gauge', samples: [] },
    { name: 'd_count', type: 'gauge', help: 'x', samples: [{ name: 'd_count', labels: { le: '1' } }] },
  ]);
  assert.equal(problems.length, 6, problems.join('\n'));
});
