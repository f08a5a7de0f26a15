/** The metric cells: histogram buckets are cumulative and `le`-inclusive, series leave with their cell. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Registry } from 'prom-client';
import { CounterFamily, HistogramFamily } from '../../src/metrics/cell-families.js';
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.js';

it('histogram buckets count values <= le, cumulatively, with exact sum and count', async () => {
  const registry = new Registry();
  const h = new HistogramFamily('t_seconds', 'help', ['model'], [0.001, 0.01, 0.1], registry);
  const cell = h.cell({ model: 'm' });
  const values = [0, 0.001, 0.0010001, 0.01, 0.05, 0.1, 0.2, 7];
  for (const v of values) cell.observe(v);
  const m = parsePrometheusText(await registry.metrics());
  assert.equal(m.get('t_seconds')!.type, 'histogram');
  const expected = (le: number) => values.filter((v) => v <= le).length;
  for (const le of [0.001, 0.01, 0.1]) assert.equal(sampleValue(m, 't_seconds_bucket', { model: 'm', le: String(le) }), expected(le));
  assert.equal(sampleValue(m, 't_seconds_bucket', { model: 'm', le: '+Inf' }), values.length);
  assert.equal(sampleValue(m, 't_seconds_count', { model: 'm' }), values.length);
  assert.ok(Math.abs(sampleValue(m, 't_seconds_sum', { model: 'm' })! - values.reduce((a, b) => a + b, 0)) < 1e-12);
});

it('counters expose each live cell with its labels and drop removed ones', async () => {
  const registry = new Registry();
  const c = new CounterFamily('t_total', 'a "quoted" help', ['reason'], registry);
  const a = c.cell({ reason: 'x"y\\z' });
  const b = c.cell({ reason: 'plain' });
  a.value += 3;
  b.value++;
  let m = parsePrometheusText(await registry.metrics());
  assert.equal(sampleValue(m, 't_total', { reason: 'x"y\\z' }), 3);
  assert.equal(sampleValue(m, 't_total', { reason: 'plain' }), 1);
  c.remove(a);
  m = parsePrometheusText(await registry.metrics());
  assert.equal(sampleValue(m, 't_total', { reason: 'x"y\\z' }), undefined);
  assert.equal(m.get('t_total')!.samples.length, 1);
});
