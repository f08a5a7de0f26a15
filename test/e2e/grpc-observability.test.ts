/**
 * Observability through the gRPC frontend, with a plain grpc-js client: traces continued from the
 * `traceparent` metadata, per-method counts in /metrics, and the TraceSetting / LogSettings RPCs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { simpleModel } from '../../tools/modelgen/models.js';
import { assertStatus, serveWithGrpcClient, type RpcClient } from '../helpers/grpc.js';
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.js';
import type { TestServer } from '../helpers/server.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const int32 = (values: number[]) => Buffer.from(Int32Array.from(values).buffer);
const inferRequest = {
  model_name: 'adder', id: 'g-1',
  inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }],
  raw_input_contents: [int32(Array.from({ length: 16 }, (_, i) => i)), int32(new Array(16).fill(2))],
};

describe('gRPC observability', () => {
  const exporter = new InMemorySpanExporter();
  let server: TestServer;
  let client: RpcClient;
  let close: () => Promise<void>;

  before(async () => {
    ({ server, client, close } = await serveWithGrpcClient({ adder: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } } }, { metricsPort: 0, tracing: { exporter } }));
  });
  after(() => close());

  it('TraceSetting reads and changes settings; the traceparent metadata sets the trace', async () => {
    const read = await client.call('TraceSetting', {});
    assert.deepEqual(read.settings.trace_level, { value: ['OFF'] });
    assert.deepEqual(read.settings.trace_rate, { value: ['1000'] });
    const set = await client.call('TraceSetting', { model_name: 'adder', settings: { trace_level: { value: ['TIMESTAMPS'] }, trace_rate: { value: ['1'] } } });
    assert.deepEqual(set.settings.trace_level, { value: ['TIMESTAMPS'] });
    await assertStatus(client.call('TraceSetting', { settings: { trace_rate: { value: ['zero'] } } }), grpc.status.INVALID_ARGUMENT, /trace_rate/);
    await assertStatus(client.call('TraceSetting', { model_name: 'nope', settings: { trace_rate: { value: ['2'] } } }), grpc.status.NOT_FOUND);

    const metadata = new grpc.Metadata();
    metadata.set('traceparent', `00-${TRACE_ID}-${PARENT_ID}-01`);
    const response = await new Promise<any>((resolve, reject) => {
      client.raw.ModelInfer(inferRequest, metadata, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r)));
    });
    assert.deepEqual([...new Int32Array(new Uint8Array(response.raw_output_contents[0]).buffer)], Array.from({ length: 16 }, (_, i) => i + 2));
    const deadline = Date.now() + 20_000;
    while (!exporter.getFinishedSpans().some((s) => s.name === 'infer adder') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const spans = exporter.getFinishedSpans();
    const request = spans.find((s) => s.name === 'infer adder')!;
    assert.equal(request.spanContext().traceId, TRACE_ID);
    assert.equal(request.parentSpanContext?.spanId, PARENT_ID);
    assert.equal(request.attributes['vireo.request_id'], 'g-1');
    assert.deepEqual(spans.filter((s) => s.parentSpanContext?.spanId === request.spanContext().spanId).map((s) => s.name).sort(), ['encode_output', 'execute', 'queue']);

    // An empty value list clears the model's override: it follows the global OFF again.
    const cleared = await client.call('TraceSetting', { model_name: 'adder', settings: { trace_level: { value: [] } } });
    assert.deepEqual(cleared.settings.trace_level, { value: ['OFF'] });
  });

  it('LogSettings reads and changes the logging settings with typed values', async () => {
    const read = await client.call('LogSettings', {});
    assert.equal(read.settings.log_verbose_level.uint32_param, 0);
    assert.equal(read.settings.log_format.string_param, 'default');
    const set = await client.call('LogSettings', { settings: { log_verbose_level: { uint32_param: 1 }, log_info: { bool_param: true } } });
    assert.equal(set.settings.log_verbose_level.uint32_param, 1);
    assert.equal((await server.get('/v2/logging')).body.log_verbose_level, 1);
    await assertStatus(client.call('LogSettings', { settings: { log_format: { string_param: 'xml' } } }), grpc.status.INVALID_ARGUMENT, /log_format/);
    await client.call('LogSettings', { settings: { log_verbose_level: { uint32_param: 0 } } });
  });

  it('counts gRPC calls by method and status name', async () => {
    await client.call('ModelInfer', inferRequest);
    await assertStatus(client.call('ModelInfer', { ...inferRequest, model_name: 'missing' }), grpc.status.NOT_FOUND);
    const m = parsePrometheusText(await (await fetch(`${server.metricsUrl}/metrics`)).text());
    assert.equal(sampleValue(m, 'vireo_protocol_requests_total', { protocol: 'grpc', route: 'ModelInfer', status: 'NOT_FOUND' }), 1);
    assert.ok(sampleValue(m, 'vireo_protocol_requests_total', { protocol: 'grpc', route: 'ModelInfer', status: 'OK' })! >= 2);
    assert.equal(sampleValue(m, 'vireo_protocol_requests_total', { protocol: 'grpc', route: 'TraceSetting', status: 'INVALID_ARGUMENT' }), 1);
  });
});
