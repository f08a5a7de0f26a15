/**
 * Every implemented RPC of the gRPC frontend over a real server, with plain grpc-js clients made
 * from Triton's proto and from the untouched OIP proto; the other RPCs answer UNIMPLEMENTED
 * (repository load/unload: grpc-repository.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildModel } from '../../tools/modelgen/onnx-graph.js';
import { simpleModel } from '../../tools/modelgen/models.js';
import { assertStatus, grpc, healthClient, oipClient, serveWithGrpcClient, streamInfer, type RpcClient } from '../helpers/grpc.js';
import type { TestServer } from '../helpers/server.js';
import { add, range16, sub } from '../helpers/simple.js';

const int32 = (values: number[]) => Buffer.from(new Int32Array(values).buffer);
const fromInt32 = (b: Buffer) => [...new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))];

function simpleTyped(a: number[], b: number[], extra: Record<string, unknown> = {}) {
  return {
    model_name: 'simple',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: a } },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: b } },
    ],
    ...extra,
  };
}

/** FP32 → FP16 (Cast to=10): its output has no typed contents field. */
const toHalfModel = () => buildModel({
  name: 'to_half',
  inputs: [{ name: 'X', type: 'FLOAT', dims: ['batch', 4] }],
  outputs: [{ name: 'Y', type: 'FLOAT16', dims: ['batch', 4] }],
  nodes: [{ op: 'Cast', inputs: ['X'], outputs: ['Y'], attributes: { to: 10 } }],
});

describe('gRPC RPCs', () => {
  let server: TestServer;
  let client: RpcClient;
  let close: () => Promise<void>;

  before(async () => {
    ({ server, client, close } = await serveWithGrpcClient({
      simple: {
        config: {
          max_batch_size: 8,
          instance_group: [{ count: 1, kind: 'KIND_CPU' }],
          version_policy: { all: {} },
          parameters: { intra_op_threads: 1 },
          dynamic_batching: { preferred_batch_size: [4], max_queue_delay_microseconds: 100, priority_levels: 2, default_priority_level: 2 },
        },
        versions: { 1: simpleModel(), 2: simpleModel() },
      },
      to_half: { versions: { 1: toHalfModel() } },
    }));
  });
  after(() => close());

  it('ServerLive, ServerReady, ServerMetadata', async () => {
    assert.deepEqual(await client.call('ServerLive', {}), { live: true });
    assert.deepEqual(await client.call('ServerReady', {}), { ready: true });
    const metadata = await client.call('ServerMetadata', {});
    assert.equal(metadata.name, 'vireo');
    assert.deepEqual(metadata.extensions, server.server.serverMetadata().extensions);
  });

  it('ModelReady versioned and not; unknown model and version are NOT_FOUND', async () => {
    assert.deepEqual(await client.call('ModelReady', { name: 'simple' }), { ready: true });
    assert.deepEqual(await client.call('ModelReady', { name: 'simple', version: '1' }), { ready: true });
    await assertStatus(client.call('ModelReady', { name: 'nope' }), grpc.status.NOT_FOUND, /Request for unknown model: 'nope' is not found/);
    await assertStatus(client.call('ModelReady', { name: 'simple', version: '9' }), grpc.status.NOT_FOUND, /Request for unknown model: 'simple' version 9 is not found/);
  });

  it('ModelMetadata with a -1 batch dimension, through Triton\'s and the OIP proto', async () => {
    const oip = oipClient(server.grpcTarget);
    try {
      for (const c of [client, oip]) {
        const m = await c.call('ModelMetadata', { name: 'simple' });
        assert.equal(m.name, 'simple');
        assert.deepEqual(m.versions, ['1', '2']);
        assert.equal(m.platform, 'onnxruntime_onnx');
        assert.deepEqual(m.inputs.map((t: any) => [t.name, t.datatype, t.shape.map(Number)]), [['INPUT0', 'INT32', [-1, 16]], ['INPUT1', 'INT32', [-1, 16]]]);
        assert.deepEqual(m.outputs.map((t: any) => t.name), ['OUTPUT0', 'OUTPUT1']);
      }
    } finally {
      oip.close();
    }
  });

  it('ModelInfer typed: sums and differences, id echoed, highest version by default', async () => {
    const a = range16(5);
    const b = range16(-3).map((x) => x * 3);
    const r = await client.call('ModelInfer', simpleTyped(a, b, { id: 'typed-1' }));
    assert.equal(r.id, 'typed-1');
    assert.equal(r.model_version, '2');
    assert.deepEqual(r.outputs.map((o: any) => [o.name, o.datatype, o.shape.map(Number)]), [['OUTPUT0', 'INT32', [1, 16]], ['OUTPUT1', 'INT32', [1, 16]]]);
    // Answered in raw_output_contents although the request was typed, as Triton answers.
    assert.equal(r.outputs[0].contents, null);
    assert.deepEqual(fromInt32(r.raw_output_contents[0]), add(a, b));
    assert.deepEqual(fromInt32(r.raw_output_contents[1]), sub(a, b));
  });

  it('ModelInfer raw, a named version, one requested output, schedule parameters as Triton\'s client sends them', async () => {
    const rows = [range16(0), range16(100)];
    const a = rows.flat();
    const b = rows.flat().map((x) => 2 * x + 1);
    const r = await client.call('ModelInfer', {
      model_name: 'simple', model_version: '1', id: 'raw-1',
      parameters: { priority: { uint64_param: '1' }, timeout: { int64_param: '5000000' }, custom: { string_param: 'kept' } },
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [2, 16] }],
      outputs: [{ name: 'OUTPUT1' }],
      raw_input_contents: [int32(a), int32(b)],
    });
    assert.equal(r.model_version, '1');
    assert.deepEqual(r.outputs.map((o: any) => [o.name, o.shape.map(Number)]), [['OUTPUT1', [2, 16]]]);
    assert.equal(r.raw_output_contents.length, 1);
    assert.deepEqual(fromInt32(r.raw_output_contents[0]), sub(a, b));
  });

  it('an untouched OIP-proto client infers too', async () => {
    const oip = oipClient(server.grpcTarget);
    try {
      const a = range16(7);
      const r = await oip.call('ModelInfer', simpleTyped(a, a));
      assert.deepEqual(fromInt32(r.raw_output_contents[0]), add(a, a));
      assert.deepEqual(fromInt32(r.raw_output_contents[1]), sub(a, a));
    } finally {
      oip.close();
    }
  });

  it('a typed request whose output is FP16 (no typed field) is answered raw', async () => {
    const r = await client.call('ModelInfer', { model_name: 'to_half', inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, -2, 0.5, 65504] } }] });
    assert.equal(r.outputs[0].datatype, 'FP16');
    assert.equal(r.outputs[0].contents, null);
    const bits = r.raw_output_contents[0] as Buffer;
    // IEEE 754 half: 1 = 0x3c00, -2 = 0xc000, 0.5 = 0x3800, 65504 (largest finite) = 0x7bff.
    assert.deepEqual([0, 2, 4, 6].map((o) => bits.readUInt16LE(o)), [0x3c00, 0xc000, 0x3800, 0x7bff]);
  });

  it('a stream of 200 requests (past the per-stream in-flight limit) is answered completely and in order', async () => {
    const requests = Array.from({ length: 200 }, (_, i) => simpleTyped(range16(i), range16(), { id: `r${i}` }));
    const responses = await streamInfer(client, requests);
    assert.equal(responses.length, 200);
    responses.forEach((r, i) => {
      assert.equal(r.error_message, '');
      assert.equal(r.infer_response.id, `r${i}`);
      assert.deepEqual(fromInt32(r.infer_response.raw_output_contents[0]), add(range16(i), range16()));
    });
  });

  it('ModelConfig is Triton\'s ModelConfig message', async () => {
    const { config } = await client.call('ModelConfig', { name: 'simple' });
    assert.equal(config.name, 'simple');
    assert.equal(config.platform, 'onnxruntime_onnx');
    assert.equal(config.backend, 'onnxruntime');
    assert.equal(config.max_batch_size, 8);
    assert.deepEqual(config.input.map((t: any) => [t.name, t.data_type, t.dims.map(Number)]), [['INPUT0', 'TYPE_INT32', [16]], ['INPUT1', 'TYPE_INT32', [16]]]);
    assert.deepEqual(config.output.map((t: any) => [t.name, t.data_type]), [['OUTPUT0', 'TYPE_INT32'], ['OUTPUT1', 'TYPE_INT32']]);
    assert.deepEqual(config.instance_group.map((g: any) => [g.count, g.kind]), [[1, 'KIND_CPU']]);
    assert.equal(config.scheduling_choice, 'dynamic_batching');
    assert.deepEqual(config.dynamic_batching.preferred_batch_size, [4]);
    assert.equal(Number(config.dynamic_batching.max_queue_delay_microseconds), 100);
    assert.equal(Number(config.dynamic_batching.priority_levels), 2);
    assert.equal(Number(config.dynamic_batching.default_priority_level), 2);
    assert.deepEqual(config.parameters, { intra_op_threads: { string_value: '1' } });
    assert.equal(config.default_model_filename, 'model.onnx');
    assert.equal(config.version_policy.policy_choice, 'all');
    await assertStatus(client.call('ModelConfig', { name: 'nope' }), grpc.status.NOT_FOUND);
  });

  it('ModelStatistics counts exactly the requests made, per version and for all models', async () => {
    const before = await client.call('ModelStatistics', { name: 'simple', version: '2' });
    const count = (s: any) => Number(s.model_stats[0].inference_stats.success.count);
    for (let i = 0; i < 3; i++) await client.call('ModelInfer', simpleTyped(range16(i), range16()));
    const afterStats = await client.call('ModelStatistics', { name: 'simple', version: '2' });
    assert.equal(count(afterStats) - count(before), 3);
    assert.equal(afterStats.model_stats[0].name, 'simple');
    assert.equal(afterStats.model_stats[0].version, '2');
    const all = await client.call('ModelStatistics', {});
    assert.deepEqual(all.model_stats.map((s: any) => `${s.name}/${s.version}`).sort(), ['simple/1', 'simple/2', 'to_half/1']);
    await assertStatus(client.call('ModelStatistics', { name: 'nope' }), grpc.status.NOT_FOUND);
  });

  it('RepositoryIndex lists every model version with its state', async () => {
    const { models } = await client.call('RepositoryIndex', {});
    assert.deepEqual(models.map((m: any) => [m.name, m.version, m.state]), [['simple', '1', 'READY'], ['simple', '2', 'READY'], ['to_half', '1', 'READY']]);
    assert.deepEqual(await client.call('RepositoryIndex', { ready: true }), { models });
  });

  it('RepositoryModelLoad and RepositoryModelUnload are refused in the default (none) control mode', async () => {
    await assertStatus(client.call('RepositoryModelLoad', { model_name: 'simple' }), grpc.status.PERMISSION_DENIED, /disabled/);
    await assertStatus(client.call('RepositoryModelUnload', { model_name: 'simple' }), grpc.status.PERMISSION_DENIED, /disabled/);
  });

  it('every RPC of the service is served: shared memory, system and CUDA, refused while off, at once', async () => {
    const system = ['SystemSharedMemoryStatus', 'SystemSharedMemoryRegister', 'SystemSharedMemoryUnregister'];
    const cuda = ['CudaSharedMemoryStatus', 'CudaSharedMemoryRegister', 'CudaSharedMemoryUnregister'];
    const declared = Object.keys(client.raw.constructor.service);
    assert.deepEqual(declared.filter((m) => !['ServerLive', 'ServerReady', 'ModelReady', 'ServerMetadata', 'ModelMetadata', 'ModelInfer', 'ModelStreamInfer',
      'ModelConfig', 'ModelStatistics', 'RepositoryIndex', 'RepositoryModelLoad', 'RepositoryModelUnload', 'TraceSetting', 'LogSettings'].includes(m)).sort(), [...system, ...cuda].sort());
    // A generous deadline: a hang would show up as DEADLINE_EXCEEDED instead of the answer.
    for (const method of [...system, ...cuda]) await assertStatus(client.call(method, {}, { deadline: Date.now() + 30_000 }), grpc.status.PERMISSION_DENIED, /--allow-shared-memory/);
  });

  it('grpc.health.v1.Health: Check for the server and per model, Watch, List', async () => {
    const health = healthClient(server.grpcTarget);
    try {
      assert.deepEqual(await health.call('Check', { service: '' }), { status: 'SERVING' });
      assert.deepEqual(await health.call('Check', { service: 'inference.GRPCInferenceService' }), { status: 'SERVING' });
      assert.deepEqual(await health.call('Check', { service: 'simple' }), { status: 'SERVING' });
      await assertStatus(health.call('Check', { service: 'nope' }), grpc.status.NOT_FOUND);
      const first = await new Promise<any>((resolve, reject) => {
        const watch = health.raw.Watch({ service: '' });
        watch.once('data', (r: unknown) => { resolve(r); watch.cancel(); });
        watch.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) reject(e); });
      });
      assert.deepEqual(first, { status: 'SERVING' });
      const { statuses } = await health.call('List', {});
      assert.deepEqual(Object.keys(statuses).sort(), ['', 'simple', 'to_half']);
      assert.equal(statuses.simple.status, 'SERVING');
    } finally {
      health.close();
    }
  });
});
