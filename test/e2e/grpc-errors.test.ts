/**
 * gRPC status codes for every kind of bad request, the stream surviving a bad request, the message
 * size limit, cancellation dropping queued work, and the server serving on after all of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { identityModel, simpleModel } from '../../tools/modelgen/models.js';
import { assertStatus, grpc, healthClient, serveWithGrpcClient, streamInfer, type RpcClient } from '../helpers/grpc.js';
import type { TestServer } from '../helpers/server.js';
import { add, range16 } from '../helpers/simple.js';

const int32 = (values: number[]) => Buffer.from(new Int32Array(values).buffer);
const input = (name: string, shape: number[], extra: Record<string, unknown> = {}) => ({ name, datatype: 'INT32', shape, ...extra });
const typed = (name: string, values: number[], shape = [1, values.length]) => input(name, shape, { contents: { int_contents: values } });
const good = (id = '') => ({ model_name: 'simple', id, inputs: [typed('INPUT0', range16()), typed('INPUT1', range16(1))] });

const { INVALID_ARGUMENT, NOT_FOUND, UNAVAILABLE, RESOURCE_EXHAUSTED } = grpc.status;

const CASES: [string, unknown, grpc.status, RegExp][] = [
  ['raw and typed contents together', { model_name: 'simple', inputs: [typed('INPUT0', range16()), input('INPUT1', [1, 16])], raw_input_contents: [int32(range16()), int32(range16())] }, INVALID_ARGUMENT, /^contents field must not be specified when using raw_input_contents for 'INPUT0' for model 'simple'$/],
  ['fewer raw contents than inputs', { model_name: 'simple', inputs: [input('INPUT0', [1, 16]), input('INPUT1', [1, 16])], raw_input_contents: [int32(range16())] }, INVALID_ARGUMENT, /raw_input_contents has 1 entries but the request has 2 inputs/],
  ['raw byte size wrong for the shape', { model_name: 'simple', inputs: [input('INPUT0', [1, 16]), input('INPUT1', [1, 16])], raw_input_contents: [int32(range16()).subarray(4), int32(range16())] }, INVALID_ARGUMENT, /"INPUT0": raw contents have 60 bytes but shape and INT32 need 64/],
  ['shape the model does not take', { model_name: 'simple', inputs: [typed('INPUT0', range16().slice(1)), typed('INPUT1', range16().slice(1))] }, INVALID_ARGUMENT, /unexpected shape for input 'INPUT0' for model 'simple'\. Expected \[-1,16\], got \[1,15\]\. NOTE: Setting a non-zero max_batch_size/],
  ['negative dimension', { model_name: 'simple', inputs: [input('INPUT0', [-1, 16]), input('INPUT1', [1, 16])], raw_input_contents: [int32(range16()), int32(range16())] }, INVALID_ARGUMENT, /invalid dimension -1/],
  ['shape too large to allocate', { model_name: 'simple', inputs: [input('INPUT0', [2 ** 40, 2 ** 40]), input('INPUT1', [1, 16])], raw_input_contents: [int32([]), int32([])] }, RESOURCE_EXHAUSTED, /more than \d+ elements/],
  ['unknown datatype', { model_name: 'simple', inputs: [{ ...typed('INPUT0', range16()), datatype: 'FLOAT' }] }, INVALID_ARGUMENT, /unknown datatype "FLOAT"/],
  ['typed field of another datatype', { model_name: 'simple', inputs: [input('INPUT0', [1, 16], { contents: { fp32_contents: range16() } }), typed('INPUT1', range16())] }, INVALID_ARGUMENT, /INT32 takes int_contents, but the request sets fp32_contents/],
  ['typed element count wrong', { model_name: 'simple', inputs: [typed('INPUT0', range16().slice(1), [1, 16]), typed('INPUT1', range16())] }, INVALID_ARGUMENT, /int_contents has 15 elements but the shape needs 16/],
  ['INT8 value out of range in int_contents', { model_name: 'identity_int8', inputs: [{ name: 'INPUT', datatype: 'INT8', shape: [1, 2], contents: { int_contents: [1, 200] } }] }, INVALID_ARGUMENT, /element 1 \(200\) is out of range for INT8/],
  ['truncated BYTES element', { model_name: 'identity_bytes', inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1, 1] }], raw_input_contents: [Buffer.from([9, 0, 0, 0, 65, 66])] }, INVALID_ARGUMENT, /BYTES element 0 declares 9 bytes but only 2 remain/],
  ['no model name', { inputs: good().inputs }, INVALID_ARGUMENT, /model_name/],
  ['no inputs', { model_name: 'simple' }, INVALID_ARGUMENT, /no inputs/],
  ['datatype the model does not take', { model_name: 'simple', inputs: [{ ...typed('INPUT0', range16()), datatype: 'FP32', contents: { fp32_contents: range16() } }, typed('INPUT1', range16())] }, INVALID_ARGUMENT, /inference input 'INPUT0' data-type is 'FP32', but model 'simple' expects 'INT32'/],
  ['unknown output', { ...good(), outputs: [{ name: 'OUTPUT9' }] }, INVALID_ARGUMENT, /unexpected inference output 'OUTPUT9' for model 'simple'/],
  ['batch over max_batch_size', { model_name: 'simple', inputs: ['INPUT0', 'INPUT1'].map((n) => typed(n, new Array(144).fill(1), [9, 16])) }, INVALID_ARGUMENT, /inference request batch-size must be <= 8 for 'simple'/],
  ['priority that is not an integer', { ...good(), parameters: { priority: { string_param: 'high' } } }, INVALID_ARGUMENT, /"priority" must be a non-negative integer/],
  ['unknown model', { ...good(), model_name: 'nope' }, NOT_FOUND, /Request for unknown model: 'nope' is not found/],
  ['unknown version', { ...good(), model_version: '7' }, NOT_FOUND, /Request for unknown model: 'simple' version 7 is not found/],
  // Triton's words, checked by grpc_explicit_*_content_client.py; the version is read before the model is looked up.
  ['version that is not a number', { ...good(), model_version: 'wrong_specification' }, INVALID_ARGUMENT, /^failed to get model version from specified version string 'wrong_specification' .*version should be an integral value > 0/],
  ['negative version', { ...good(), model_version: '-1' }, INVALID_ARGUMENT, /^invalid model version specified '-1' , version should be an integral value > 0/],
  ['version that is not a number, unknown model', { ...good(), model_name: 'nope', model_version: 'x1' }, INVALID_ARGUMENT, /failed to get model version from specified version string 'x1'/],
  ['model that failed to load', { model_name: 'broken', inputs: good().inputs }, UNAVAILABLE, /broken/],
];

describe('gRPC errors', () => {
  let server: TestServer;
  let client: RpcClient;
  let close: () => Promise<void>;

  before(async () => {
    ({ server, client, close } = await serveWithGrpcClient({
      simple: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } },
      identity_int8: { versions: { 1: identityModel('INT8') } },
      identity_bytes: { versions: { 1: identityModel('STRING') } },
      broken: { versions: { 1: 'not an onnx model' } },
      // Waits up to 60 s to fill a batch of 8: a lone request stays queued until cancelled.
      slow: { config: { max_batch_size: 8, dynamic_batching: { preferred_batch_size: [8], max_queue_delay_microseconds: 60_000_000 } }, versions: { 1: simpleModel() } },
    }, { grpcMaxMessageSize: 256 * 1024 }));
  });
  after(() => close());

  for (const [name, request, code, pattern] of CASES) {
    it(`${name} → ${grpc.status[code]}`, async () => {
      await assertStatus(client.call('ModelInfer', request), code, pattern);
    });
  }

  it('a stream with a bad request in the middle answers every request, in order', async () => {
    const a = range16();
    const b = range16(1);
    const responses = await streamInfer(client, [good('first'), { ...good('bad'), model_name: 'nope' }, CASES[0]![1], good('last')]);
    assert.equal(responses.length, 4);
    assert.equal(responses[0].error_message, '');
    assert.deepEqual(int32s(responses[0].infer_response.raw_output_contents[0]), add(a, b));
    assert.match(responses[1].error_message, /Request for unknown model: 'nope' is not found/);
    assert.equal(responses[1].infer_response.id, 'bad');
    assert.match(responses[2].error_message, /contents field must not be specified when using raw_input_contents/);
    assert.equal(responses[3].error_message, '');
    assert.equal(responses[3].infer_response.id, 'last');
    assert.deepEqual(int32s(responses[3].infer_response.raw_output_contents[0]), add(a, b));
  });

  it('a message over --grpc-max-message-size is RESOURCE_EXHAUSTED; one under it is served', async () => {
    const big = { model_name: 'simple', inputs: [input('INPUT0', [8, 16]), input('INPUT1', [8, 16])], raw_input_contents: [Buffer.alloc(300 * 1024), Buffer.alloc(512)] };
    await assertStatus(client.call('ModelInfer', big), RESOURCE_EXHAUSTED);
    const fits = { model_name: 'simple', inputs: [input('INPUT0', [8, 16]), input('INPUT1', [8, 16])], raw_input_contents: [Buffer.alloc(512), Buffer.alloc(512)] };
    const r = await client.call('ModelInfer', fits);
    assert.deepEqual(r.raw_output_contents.map((b: Buffer) => b.length), [512, 512]);
  });

  it('cancelling a call drops its queued request', async () => {
    const scheduler = server.server.repository.resolve('slow').scheduler;
    const failedBefore = server.server.statistics('slow')[0]!.inference_stats.fail.count;
    const call = client.raw.ModelInfer({ ...good(), model_name: 'slow' }, (error: grpc.ServiceError | null) => {
      assert.equal(error?.code, grpc.status.CANCELLED);
    });
    await waitFor(() => scheduler.pending === 1);
    call.cancel();
    await waitFor(() => scheduler.pending === 0);
    const stats = server.server.statistics('slow')[0]!;
    assert.equal(stats.inference_stats.fail.count, failedBefore + 1);
    assert.equal(stats.inference_stats.success.count, 0);
    assert.equal(stats.execution_count, 0);
  });

  it('a call past its deadline drops its queued request too', async () => {
    const scheduler = server.server.repository.resolve('slow').scheduler;
    const executions = server.server.statistics('slow')[0]!.execution_count;
    await assertStatus(client.call('ModelInfer', { ...good(), model_name: 'slow' }, { deadline: Date.now() + 3_000 }), grpc.status.DEADLINE_EXCEEDED);
    // The batch delay is 60 s: only the abort empties the queue before the 30 s wait gives up.
    await waitFor(() => scheduler.pending === 0);
    assert.equal(server.server.statistics('slow')[0]!.execution_count, executions);
  });

  it('health follows readiness: the server is NOT_SERVING with a broken model (strict readiness), models each their own', async () => {
    const health = healthClient(server.grpcTarget);
    try {
      assert.deepEqual(await health.call('Check', { service: '' }), { status: 'NOT_SERVING' });
      assert.deepEqual(await health.call('Check', { service: 'broken' }), { status: 'NOT_SERVING' });
      assert.deepEqual(await health.call('Check', { service: 'simple' }), { status: 'SERVING' });
    } finally {
      health.close();
    }
  });

  it('the server keeps serving after every error', async () => {
    assert.deepEqual(await client.call('ServerLive', {}), { live: true });
    const r = await client.call('ModelInfer', good('after'));
    assert.equal(r.id, 'after');
    assert.deepEqual(int32s(r.raw_output_contents[0]), add(range16(), range16(1)));
  });
});

/** An INT32 output from raw_output_contents (Triton's gRPC answers in raw form). */
const int32s = (bytes: Uint8Array) => [...new Int32Array(new Uint8Array(bytes).buffer)];

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
