/** MetricsRecorder over VireoMetrics: what a scheduler report becomes, and one series per label set across reloads. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { VireoMetrics } from '../../src/metrics/vireo-metrics.js';
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.js';

const timings = { queueNs: 2_000_000, computeInputNs: 100_000, computeInferNs: 5_000_000, computeOutputNs: 50_000 };

it('turns scheduler reports into counters, histograms and gauges', async () => {
  const metrics = new VireoMetrics({ defaultMetrics: false });
  const r = metrics.recorderFor('m', '3');
  r.pending(2);
  r.busy(1);
  r.batch({ batchSize: 5, startNs: 0, computeInputNs: 1, computeInferNs: 1, computeOutputNs: 1 });
  r.request('success', 2, 8_000_000, timings);
  r.request('success', 3, 12_000_000, timings);
  r.request('failure', 1, 1_000, undefined, 'VIREO_ERR_REQUEST_TIMEOUT');
  const m = parsePrometheusText(await metrics.text());
  const mv = { model: 'm', version: '3' };
  assert.equal(sampleValue(m, 'vireo_inference_requests_total', { ...mv, outcome: 'success' }), 2);
  assert.equal(sampleValue(m, 'vireo_inference_requests_total', { ...mv, outcome: 'failure', reason: 'VIREO_ERR_REQUEST_TIMEOUT' }), 1);
  assert.equal(sampleValue(m, 'vireo_inference_count_total', mv), 5);
  assert.equal(sampleValue(m, 'vireo_inference_exec_count_total', mv), 1);
  assert.equal(sampleValue(m, 'vireo_request_duration_seconds_count', mv), 2);
  assert.ok(Math.abs(sampleValue(m, 'vireo_request_duration_seconds_sum', mv)! - 0.02) < 1e-12);
  assert.equal(sampleValue(m, 'vireo_request_duration_seconds_bucket', { ...mv, le: '0.005' }), 0);
  assert.equal(sampleValue(m, 'vireo_request_duration_seconds_bucket', { ...mv, le: '0.01' }), 1);
  assert.equal(sampleValue(m, 'vireo_request_duration_seconds_bucket', { ...mv, le: '0.025' }), 2);
  assert.ok(Math.abs(sampleValue(m, 'vireo_compute_infer_duration_seconds_sum', mv)! - 0.01) < 1e-12);
  assert.equal(sampleValue(m, 'vireo_batch_size_bucket', { ...mv, le: '4' }), 0);
  assert.equal(sampleValue(m, 'vireo_batch_size_bucket', { ...mv, le: '6' }), 1);
  assert.equal(sampleValue(m, 'vireo_pending_requests', mv), 2);
  assert.equal(sampleValue(m, 'vireo_instances_busy', mv), 1);
});

it('a version loaded again replaces its series instead of duplicating them', async () => {
  const metrics = new VireoMetrics({ defaultMetrics: false });
  const first = metrics.recorderFor('m', '1');
  first.request('success', 1, 1000, timings);
  first.loaded(0.5);
  const second = metrics.recorderFor('m', '1');
  second.request('success', 1, 1000, timings);
  second.request('success', 1, 1000, timings);
  second.loaded(0.25);
  const m = parsePrometheusText(await metrics.text());
  for (const family of m.values()) {
    const keys = family.samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`);
    assert.equal(new Set(keys).size, keys.length, `duplicate series in ${family.name}`);
  }
  assert.equal(sampleValue(m, 'vireo_inference_requests_total', { model: 'm', outcome: 'success' }), 2);
  assert.equal(sampleValue(m, 'vireo_model_load_duration_seconds', { model: 'm' }), 0.25);
});
