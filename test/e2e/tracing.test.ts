/**
 * OpenTelemetry tracing over a real server, spans collected with the SDK's in-memory exporter:
 * the span tree of a request, the caller's W3C trace id, batch spans linked to every request they
 * ran, sampling (rate, count, the caller's sampled flag), and the trace extension's settings API.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { range16, simpleRequest } from '../helpers/simple.js';

const io = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [16] });
const config = (name: string, extra: Record<string, unknown> = {}) => ({
  name, backend: 'onnx', max_batch_size: 8,
  input: [io('INPUT0'), io('INPUT1')], output: [io('OUTPUT0'), io('OUTPUT1')],
  instance_group: [{ count: 1, kind: 'KIND_CPU' }], ...extra,
});
const body = simpleRequest(range16(), range16(5));
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_ID = 'b7ad6b7169203331';

async function waitForSpans(exporter: InMemorySpanExporter, predicate: (spans: ReadableSpan[]) => boolean): Promise<ReadableSpan[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const spans = exporter.getFinishedSpans();
    if (predicate(spans)) return spans;
    if (Date.now() > deadline) assert.fail(`spans never matched; have ${spans.map((s) => s.name).join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const id = (s: ReadableSpan) => s.spanContext().spanId;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const hr = (t: [number, number]) => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      adder: { config: config('adder'), versions: { 1: simpleModel() } },
      batcher: { config: config('batcher', { dynamic_batching: { max_queue_delay_microseconds: 50000, preferred_batch_size: [4] } }), versions: { 1: simpleModel() } },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { tracing: { level: 'TIMESTAMPS', rate: 1, exporter } });
  });
  after(async () => {
    await server.close();
    await cleanup();
  });
  beforeEach(() => exporter.reset());

  it('builds the span tree under the caller\'s traceparent', async () => {
    const res = await server.post('/v2/models/adder/infer', body, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, 'x-request-id': 'req-42' });
    assert.equal(res.status, 200);
    const spans = await waitForSpans(exporter, (s) => s.some((x) => x.name === 'infer adder'));
    assert.ok(spans.every((s) => s.spanContext().traceId === TRACE_ID), 'every span is in the caller\'s trace');
    const request = spans.find((s) => s.name === 'infer adder')!;
    assert.equal(parentOf(request), PARENT_ID);
    assert.equal(request.attributes['vireo.request_id'], 'req-42');
    assert.equal(request.attributes['vireo.model'], 'adder');
    const children = spans.filter((s) => parentOf(s) === id(request)).map((s) => s.name).sort();
    assert.deepEqual(children, ['encode_output', 'execute', 'queue']);
    const execute = spans.find((s) => s.name === 'execute')!;
    assert.deepEqual(execute.links.map((l) => l.context.spanId), [id(request)]);
    assert.equal(execute.attributes['vireo.batch_size'], 1);
    assert.deepEqual(spans.filter((s) => parentOf(s) === id(execute)).map((s) => s.name).sort(), ['compute_infer', 'compute_input', 'compute_output']);
    // Children lie within the request span and in pipeline order.
    const queue = spans.find((s) => s.name === 'queue')!;
    const encode = spans.find((s) => s.name === 'encode_output')!;
    assert.ok(hr(request.startTime) <= hr(queue.startTime));
    assert.ok(hr(queue.endTime) <= hr(execute.startTime) + 1000n);
    assert.ok(hr(execute.endTime) <= hr(encode.startTime) + 1000n);
    assert.ok(hr(encode.endTime) <= hr(request.endTime));
  });

  it('links one execute span to every request of a dynamic batch', async () => {
    const n = 8;
    const results = await Promise.all(Array.from({ length: n }, () => server.post('/v2/models/batcher/infer', body)));
    assert.ok(results.every((r) => r.status === 200));
    const spans = await waitForSpans(exporter, (s) => s.filter((x) => x.name === 'infer batcher').length === n
      && s.filter((x) => x.name === 'execute').reduce((sum, e) => sum + e.links.length, 0) === n);
    const requests = spans.filter((s) => s.name === 'infer batcher');
    const executes = spans.filter((s) => s.name === 'execute');
    const linkedBy = new Map<string, number>();
    for (const e of executes) {
      assert.equal(e.attributes['vireo.batch_size'], e.links.length, 'one row per request');
      assert.equal(e.attributes['vireo.batch_requests'], e.links.length);
      const linked = e.links.map((l) => l.context.spanId);
      assert.ok(linked.includes(parentOf(e)!), 'the batch span is a child of one of its requests');
      for (const spanId of linked) linkedBy.set(spanId, (linkedBy.get(spanId) ?? 0) + 1);
    }
    assert.deepEqual([...linkedBy.keys()].sort(), requests.map(id).sort());
    assert.ok([...linkedBy.values()].every((c) => c === 1), 'each request ran in exactly one batch');
    // Each request still has its own queue and encode_output children, in its own trace.
    for (const r of requests) {
      const own = spans.filter((s) => parentOf(s) === id(r)).map((s) => s.name);
      assert.ok(own.includes('queue') && own.includes('encode_output'));
    }
    assert.equal(new Set(requests.map((r) => r.spanContext().traceId)).size, n, 'no caller context: one trace per request');
  });

  it('traces V1 REST predict requests the same way', async () => {
    const instances = [{ INPUT0: range16(), INPUT1: range16(5) }];
    const res = await server.post('/v1/models/adder:predict', { instances }, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` });
    assert.equal(res.status, 200);
    const spans = await waitForSpans(exporter, (s) => s.some((x) => x.name === 'infer adder'));
    const request = spans.find((s) => s.name === 'infer adder')!;
    assert.equal(request.spanContext().traceId, TRACE_ID);
    assert.deepEqual(spans.filter((s) => parentOf(s) === id(request)).map((s) => s.name).sort(), ['encode_output', 'execute', 'queue']);
  });

  it('marks a failed request\'s span as an error and runs no batch', async () => {
    const bad = simpleRequest(range16(), range16());
    bad.inputs[0]!.shape = [2, 16];
    assert.equal((await server.post('/v2/models/adder/infer', bad)).status, 400);
    const [span] = await waitForSpans(exporter, (s) => s.length > 0);
    assert.equal(span!.name, 'infer adder');
    assert.equal(span!.status.code, 2); // SpanStatusCode.ERROR
    assert.equal(span!.attributes['vireo.error_code'], 'VIREO_ERR_INPUT_DATA');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!exporter.getFinishedSpans().some((s) => s.name === 'execute'));
  });

  it('follows the caller\'s sampled flag', async () => {
    assert.equal((await server.post('/v2/models/adder/infer', body, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` })).status, 200);
    assert.equal((await server.post('/v2/models/adder/infer', body, { traceparent: `00-${'1'.repeat(32)}-${PARENT_ID}-01` })).status, 200);
    const spans = await waitForSpans(exporter, (s) => s.some((x) => x.name === 'infer adder'));
    assert.ok(spans.every((s) => s.spanContext().traceId === '1'.repeat(32)));
  });

  it('changes trace settings at run time, globally and per model', async () => {
    const defaults = await server.get('/v2/trace/setting');
    assert.deepEqual(defaults.body, { trace_level: ['TIMESTAMPS'], trace_rate: '1', trace_count: '-1', log_frequency: '0', trace_file: '', trace_mode: 'opentelemetry' });

    // A model turned OFF is not traced while the other still is.
    const off = await server.post('/v2/models/adder/trace/setting', { trace_level: ['OFF'] });
    assert.equal(off.status, 200);
    assert.deepEqual(off.body.trace_level, ['OFF']);
    assert.deepEqual((await server.get('/v2/trace/setting')).body.trace_level, ['TIMESTAMPS']);
    await server.post('/v2/models/adder/infer', body);
    await server.post('/v2/models/batcher/infer', body);
    await waitForSpans(exporter, (s) => s.some((x) => x.name === 'infer batcher'));
    assert.ok(!exporter.getFinishedSpans().some((s) => s.name === 'infer adder'));
    // null removes the override: the model follows the global setting again.
    assert.deepEqual((await server.post('/v2/models/adder/trace/setting', { trace_level: null })).body.trace_level, ['TIMESTAMPS']);

    // trace_rate: one in three; trace_count: only two more traces, then the count reads 0.
    exporter.reset();
    await server.post('/v2/trace/setting', { trace_rate: '3' });
    for (let i = 0; i < 6; i++) await server.post('/v2/models/batcher/infer', body);
    await waitForSpans(exporter, (s) => s.filter((x) => x.name === 'infer batcher').length === 2);
    exporter.reset();
    await server.post('/v2/trace/setting', { trace_rate: '1', trace_count: '2' });
    for (let i = 0; i < 5; i++) await server.post('/v2/models/adder/infer', body);
    await waitForSpans(exporter, (s) => s.filter((x) => x.name === 'infer adder').length === 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(exporter.getFinishedSpans().filter((x) => x.name === 'infer adder').length, 2);
    assert.equal((await server.get('/v2/trace/setting')).body.trace_count, '0');
    await server.post('/v2/trace/setting', { trace_count: '-1' });
  });

  it('refuses bad trace settings with 400 and unknown models with 404, changing nothing', async () => {
    const before = (await server.get('/v2/trace/setting')).body;
    for (const bad of [{ trace_rate: '0' }, { trace_level: ['TENSORS'] }, { trace_level: 'LOUD' }, { trace_count: '-2' },
      { trace_file: '/tmp/x' }, { log_frequency: '10' }, { nope: '1' }, [1], 'text']) {
      const res = await server.post('/v2/trace/setting', bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(typeof res.body.error, 'string');
    }
    assert.deepEqual((await server.get('/v2/trace/setting')).body, before);
    const unknown = await server.get('/v2/models/missing/trace/setting');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /Request for unknown model: 'missing' is not found/);
  });
});

describe('tracing off (the default)', () => {
  it('creates no spans, and turns on through the settings API', async () => {
    const exporter = new InMemorySpanExporter();
    const repo = await makeRepository({ adder: { config: config('adder'), versions: { 1: simpleModel() } } });
    const server = await startTestServer(repo.root, { tracing: { exporter } });
    try {
      assert.deepEqual((await server.get('/v2/trace/setting')).body.trace_level, ['OFF']);
      await server.post('/v2/models/adder/infer', body, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(exporter.getFinishedSpans().length, 0);
      await server.post('/v2/models/adder/trace/setting', { trace_level: ['TIMESTAMPS'], trace_rate: '1' });
      await server.post('/v2/models/adder/infer', body);
      await waitForSpans(exporter, (s) => s.some((x) => x.name === 'infer adder'));
    } finally {
      await server.close();
      await repo.cleanup();
    }
  });
});
