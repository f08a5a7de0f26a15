/**
 * GET /metrics on its own port, read with an independent text-format parser after a known
 * workload: counters, histogram counts, buckets and sums match what was sent; failures count
 * under their error code; gauges, readiness and per-route protocol counts; unload drops series.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleModel, slowModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { parsePrometheusText, sampleValue, type Family } from '../helpers/prom-text.js';
import { add, range16, sub } from '../helpers/simple.js';

const io = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [16] });
const config = (name: string, extra: Record<string, unknown> = {}) => ({
  name, backend: 'onnx', max_batch_size: 8,
  input: [io('INPUT0'), io('INPUT1')], output: [io('OUTPUT0'), io('OUTPUT1')],
  instance_group: [{ count: 1, kind: 'KIND_CPU' }], ...extra,
});

/** A batch of `rows` rows: INPUT0 row r = range16(r), INPUT1 = all r+1. */
function batchRequest(rows: number, shape = [rows, 16]) {
  const a = Array.from({ length: rows }, (_, r) => range16(r)).flat();
  const b = Array.from({ length: rows }, (_, r) => new Array(16).fill(r + 1)).flat();
  return {
    body: { inputs: [{ name: 'INPUT0', shape, datatype: 'INT32', data: a }, { name: 'INPUT1', shape, datatype: 'INT32', data: b }] },
    sum: add(a, b), diff: sub(a, b),
  };
}

describe('Prometheus metrics', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let metricsUrl: string;
  const scrape = async () => {
    const response = await fetch(`${metricsUrl}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await response.text());
  };

  before(async () => {
    const repo = await makeRepository({
      adder: { config: config('adder'), versions: { 1: simpleModel() } },
      batcher: { config: config('batcher', { dynamic_batching: { max_queue_delay_microseconds: 20000, preferred_batch_size: [4] } }), versions: { 1: simpleModel() } },
      slow_bounded: {
        config: { max_batch_size: 1, parameters: { intra_op_threads: 1 }, dynamic_batching: { default_queue_policy: { max_queue_size: 1 } } },
        versions: { 1: slowModel(512, 16) },
      },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { metricsPort: 0 });
    metricsUrl = server.metricsUrl!;
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  it('counts a known sequential workload exactly', async () => {
    const model = { model: 'adder', version: '1' };
    const sizes = [1, 1, 3, 1, 1, 3, 1];
    const started = performance.now();
    for (const rows of sizes) {
      const { body, sum, diff } = batchRequest(rows);
      const { status, body: out } = await server.post('/v2/models/adder/infer', body);
      assert.equal(status, 200);
      assert.deepEqual(out.outputs[0].data, sum);
      assert.deepEqual(out.outputs[1].data, diff);
    }
    const elapsedS = (performance.now() - started) / 1000;
    const m = await scrape();
    const items = sizes.reduce((a, b) => a + b, 0);
    assert.equal(sampleValue(m, 'vireo_inference_requests_total', { ...model, outcome: 'success', reason: '' }), sizes.length);
    assert.equal(sampleValue(m, 'vireo_inference_count_total', model), items);
    assert.equal(sampleValue(m, 'vireo_inference_exec_count_total', model), sizes.length);
    // Without dynamic batching every request is its own execution: the batch-size histogram is the list sent.
    assert.equal(sampleValue(m, 'vireo_batch_size_count', model), sizes.length);
    assert.equal(sampleValue(m, 'vireo_batch_size_sum', model), items);
    for (const [le, expected] of [['1', 5], ['2', 5], ['3', 7], ['4', 7], ['+Inf', 7]] as const) {
      assert.equal(sampleValue(m, 'vireo_batch_size_bucket', { ...model, le }), expected, `batch_size le=${le}`);
    }
    for (const h of ['request', 'queue', 'compute_input', 'compute_infer', 'compute_output']) {
      const name = `vireo_${h}_duration_seconds`;
      assert.equal(sampleValue(m, `${name}_count`, model), sizes.length, `${name} count`);
      assert.equal(sampleValue(m, `${name}_bucket`, { ...model, le: '+Inf' }), sizes.length);
      const sum = sampleValue(m, `${name}_sum`, model)!;
      assert.ok(sum >= 0 && sum <= elapsedS, `${name}_sum ${sum} within the ${elapsedS} s the client waited`);
      assertCumulative(m.get(name)!, model);
    }
    const requestSum = sampleValue(m, 'vireo_request_duration_seconds_sum', model)!;
    const parts = ['queue', 'compute_input', 'compute_infer', 'compute_output']
      .reduce((s, p) => s + sampleValue(m, `vireo_${p}_duration_seconds_sum`, model)!, 0);
    assert.ok(requestSum > 0 && parts <= requestSum, `queue + compute (${parts}) never exceed the request time (${requestSum})`);
    assert.equal(sampleValue(m, 'vireo_pending_requests', model), 0);
    assert.equal(sampleValue(m, 'vireo_instances_busy', model), 0);
    assert.equal(sampleValue(m, 'vireo_model_ready', model), 1);
    assert.ok(sampleValue(m, 'vireo_model_load_duration_seconds', model)! > 0);
    assert.equal(sampleValue(m, 'vireo_protocol_requests_total', { protocol: 'http', route: 'POST /v2/models/:model/infer', status: '200' }), sizes.length);
    // The statistics extension, kept separately, agrees.
    const stats = (await server.get('/v2/models/adder/stats')).body.model_stats[0];
    assert.equal(stats.inference_count, items);
    assert.equal(stats.execution_count, sizes.length);
  });

  it('counts failing requests under their error code', async () => {
    const model = { model: 'adder', version: '1' };
    const before = await scrape();
    const failures = (m: Map<string, Family>, reason: string) => sampleValue(m, 'vireo_inference_requests_total', { ...model, outcome: 'failure', reason }) ?? 0;
    const bad = batchRequest(1, [1, 16]);
    bad.body.inputs[1]!.shape = [1, 15];
    bad.body.inputs[1]!.data = bad.body.inputs[1]!.data.slice(0, 15);
    assert.equal((await server.post('/v2/models/adder/infer', bad.body)).status, 400);
    assert.equal((await server.post('/v2/models/adder/infer', batchRequest(9).body)).status, 400);
    assert.equal((await server.post('/v2/models/adder/infer', batchRequest(9).body)).status, 400);
    const m = await scrape();
    assert.equal(failures(m, 'VIREO_ERR_INPUT_SHAPE') - failures(before, 'VIREO_ERR_INPUT_SHAPE'), 1);
    assert.equal(failures(m, 'VIREO_ERR_BATCH_TOO_LARGE') - failures(before, 'VIREO_ERR_BATCH_TOO_LARGE'), 2);
    // Failures do not touch the success series or the latency histograms.
    assert.equal(sampleValue(m, 'vireo_inference_requests_total', { ...model, outcome: 'success', reason: '' }),
      sampleValue(before, 'vireo_inference_requests_total', { ...model, outcome: 'success', reason: '' }));
    assert.equal(sampleValue(m, 'vireo_request_duration_seconds_count', model), sampleValue(before, 'vireo_request_duration_seconds_count', model));
    const route400 = (x: Map<string, Family>) => sampleValue(x, 'vireo_protocol_requests_total', { protocol: 'http', route: 'POST /v2/models/:model/infer', status: '400' }) ?? 0;
    assert.equal(route400(m) - route400(before), 3);
    // Unknown routes are counted without their raw path.
    assert.equal((await server.get('/v2/nothing/here')).status, 404);
    assert.equal(sampleValue(await scrape(), 'vireo_protocol_requests_total', { protocol: 'http', route: 'GET unmatched', status: '404' }), 1);
  });

  it('counts requests refused with a full queue under VIREO_ERR_QUEUE_FULL, one for one', async () => {
    const model = { model: 'slow_bounded', version: '1' };
    const input = { inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 512], data: new Array(512).fill(0.001) }] };
    const responses = await Promise.all(Array.from({ length: 6 }, () => server.post('/v2/models/slow_bounded/infer', input)));
    const ok = responses.filter((r) => r.status === 200).length;
    const full = responses.filter((r) => r.status === 503).length;
    assert.equal(ok + full, 6);
    assert.ok(full >= 1, 'with one running and one queued, some of six concurrent requests find the queue full');
    const m = await scrape();
    assert.equal(sampleValue(m, 'vireo_inference_requests_total', { ...model, outcome: 'failure', reason: 'VIREO_ERR_QUEUE_FULL' }), full);
    assert.equal(sampleValue(m, 'vireo_inference_requests_total', { ...model, outcome: 'success', reason: '' }), ok);
    assert.equal(sampleValue(m, 'vireo_request_duration_seconds_count', model), ok);
  });

  it('keeps batch-size and item counts consistent under concurrent load with dynamic batching', async () => {
    const model = { model: 'batcher', version: '1' };
    const sizes = [1, 2, 1, 1, 3, 1, 2, 1, 1, 1, 2, 1];
    const results = await Promise.all(sizes.map(async (rows) => {
      const { body, sum } = batchRequest(rows);
      const { status, body: out } = await server.post('/v2/models/batcher/infer', body);
      return status === 200 && JSON.stringify(out.outputs[0].data) === JSON.stringify(sum);
    }));
    assert.ok(results.every(Boolean));
    const m = await scrape();
    const items = sizes.reduce((a, b) => a + b, 0);
    const execs = sampleValue(m, 'vireo_inference_exec_count_total', model)!;
    assert.equal(sampleValue(m, 'vireo_inference_count_total', model), items);
    assert.equal(sampleValue(m, 'vireo_batch_size_sum', model), items);
    assert.equal(sampleValue(m, 'vireo_batch_size_count', model), execs);
    assert.ok(execs >= Math.ceil(items / 8) && execs <= sizes.length);
    assert.equal(sampleValue(m, 'vireo_request_duration_seconds_count', model), sizes.length);
    assert.equal(sampleValue(m, 'vireo_pending_requests', model), 0);
  });

  it('exposes process defaults and host utilisation', async () => {
    const m = await scrape();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(m.has(name), name);
    }
    for (const name of ['vireo_host_cpu_utilization_ratio', 'vireo_host_memory_utilization_ratio']) {
      const v = sampleValue(m, name)!;
      assert.ok(v >= 0 && v <= 1, `${name} = ${v}`);
    }
    assert.ok(sampleValue(m, 'vireo_host_memory_total_bytes')! > 0);
  });

  it('answers only GET and HEAD /metrics on the metrics port', async () => {
    assert.equal((await fetch(`${metricsUrl}/other`)).status, 404);
    const post = await fetch(`${metricsUrl}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.match(((await post.json()) as { error: string }).error, /not allowed/);
    const head = await fetch(`${metricsUrl}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  it('drops a version\'s series when it is unloaded', async () => {
    await server.server.repository.unload('adder');
    const m = await scrape();
    for (const family of m.values()) {
      for (const s of family.samples) assert.notEqual(s.labels.model, 'adder', `${s.name} still has adder`);
    }
    assert.equal(sampleValue(m, 'vireo_model_ready', { model: 'batcher', version: '1' }), 1);
  });
});

describe('metrics disabled', () => {
  it('opens no metrics port and still serves inference', async () => {
    const repo = await makeRepository({ adder: { config: config('adder'), versions: { 1: simpleModel() } } });
    const server = await startTestServer(repo.root, { metricsPort: -1 });
    try {
      assert.equal(server.metricsUrl, undefined);
      assert.equal((await server.post('/v2/models/adder/infer', batchRequest(2).body)).status, 200);
    } finally {
      await server.close();
      await repo.cleanup();
    }
  });
});

/** Buckets never decrease with `le`, and +Inf equals _count. */
function assertCumulative(family: Family, labels: Record<string, string>): void {
  const buckets = family.samples
    .filter((s) => s.name.endsWith('_bucket') && s.labels.model === labels.model && s.labels.version === labels.version)
    .map((s) => ({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), v: s.value }))
    .sort((a, b) => a.le - b.le);
  assert.equal(buckets[0]!.le, 0.0001, 'buckets start at 100 µs');
  assert.equal(buckets.at(-2)!.le, 10, 'the last finite bucket is 10 s');
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.v >= buckets[i - 1]!.v);
}
