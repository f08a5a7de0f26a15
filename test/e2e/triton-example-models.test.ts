/**
 * examples/triton-models, Triton's example repository (docs/examples/model_repository) in
 * config.pbtxt form, answers as Triton's models do: what Triton's Python client examples
 * (simple_*_string_*, grpc_explicit_*, simple_*_sequence_* with and without --dyna) check. The
 * expected values are the examples' own arithmetic, recomputed here.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prepareExamples } from '../../tools/prepare-examples.js';
import { tritonClient, type RpcClient } from '../helpers/grpc.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const repository = join(import.meta.dirname, '..', '..', 'examples', 'triton-models');
const MODELS = ['simple', 'simple_dyna_sequence', 'simple_identity', 'simple_int8', 'simple_sequence', 'simple_string', 'simple_string_dyna_sequence'];

/** Triton's binary BYTES layout: each element a 4-byte little-endian length, then its bytes. */
function packBytes(elements: Buffer[]): Buffer {
  return Buffer.concat(elements.flatMap((e) => [Buffer.from(Uint32Array.of(e.length).buffer), e]));
}

function unpackBytes(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const length = bytes.readUInt32LE(at);
    out.push(bytes.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return out;
}

describe('Triton example repository (examples/triton-models)', () => {
  let server: TestServer;
  let client: RpcClient;

  before(async () => {
    await prepareExamples();
    server = await startTestServer(repository);
    client = tritonClient(server.grpcTarget);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  it('loads every model from its config.pbtxt', async () => {
    const index = (await server.post('/v2/repository/index', {})).body;
    assert.deepEqual(index.map((m: any) => [m.name, m.state]), MODELS.map((name) => [name, 'READY']));
    const config = (await server.get('/v2/models/simple_dyna_sequence/config')).body;
    assert.equal(config.sequence_batching.control_input.find((c: any) => c.name === 'CORRID').control[0].data_type, 'TYPE_UINT64');
    assert.equal(config.instance_group[0].count, 2);
  });

  it('simple_string adds and subtracts integers written as text (JSON in, JSON out)', async () => {
    const in0 = Array.from({ length: 16 }, (_, i) => i);
    const in1 = Array.from({ length: 16 }, () => 1);
    const { status, body } = await server.post('/v2/models/simple_string/infer', {
      inputs: [
        { name: 'INPUT0', datatype: 'BYTES', shape: [1, 16], data: in0.map(String) },
        { name: 'INPUT1', datatype: 'BYTES', shape: [1, 16], data: in1.map(String) },
      ],
    });
    assert.equal(status, 200, JSON.stringify(body));
    const out = Object.fromEntries(body.outputs.map((o: any) => [o.name, o]));
    assert.equal(out.OUTPUT0.datatype, 'BYTES');
    assert.deepEqual(out.OUTPUT0.data, in0.map((x, i) => String(x + in1[i]!)));
    assert.deepEqual(out.OUTPUT1.data, in0.map((x, i) => String(x - in1[i]!)));
  });

  it('simple_int8 over gRPC typed int_contents answers in raw_output_contents (grpc_explicit_int8_content_client.py)', async () => {
    const in0 = Array.from({ length: 16 }, (_, i) => i);
    const in1 = Array.from({ length: 16 }, () => 1);
    const response = await client.call('ModelInfer', {
      model_name: 'simple_int8',
      inputs: [
        { name: 'INPUT0', datatype: 'INT8', shape: ['1', '16'], contents: { int_contents: in0 } },
        { name: 'INPUT1', datatype: 'INT8', shape: ['1', '16'], contents: { int_contents: in1 } },
      ],
    });
    const byName = Object.fromEntries(response.outputs.map((o: any, i: number) => [o.name, new Int8Array(new Uint8Array(response.raw_output_contents[i]).buffer)]));
    assert.deepEqual([...byName.OUTPUT0], in0.map((x, i) => x + in1[i]!));
    assert.deepEqual([...byName.OUTPUT1], in0.map((x, i) => x - in1[i]!));
  });

  it('simple_identity returns bytes exactly: NUL bytes and binary blobs, binary and JSON (simple_*_string_infer_client.py)', async () => {
    const elements = Array.from({ length: 16 }, (_, i) => (i % 2 ? Buffer.from('he\0llo') : Buffer.from([0, 1, 2, 3])));
    const data = packBytes(elements);
    const header = Buffer.from(JSON.stringify({
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 16], parameters: { binary_data_size: data.length } }],
      outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
    }));
    const response = await fetch(`${server.url}/v2/models/simple_identity/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, data]),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    assert.equal(response.status, 200, bytes.toString());
    const headerLength = Number(response.headers.get('inference-header-content-length'));
    const answer = JSON.parse(bytes.subarray(0, headerLength).toString());
    assert.deepEqual(answer.outputs[0].shape, [1, 16]);
    assert.deepEqual(unpackBytes(bytes.subarray(headerLength)), elements);

    // JSON: each element as the text tritonclient makes of it (UTF-8 of the bytes).
    const json = await server.post('/v2/models/simple_identity/infer', {
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 16], data: elements.map((e) => e.toString('utf8')) }],
    });
    assert.equal(json.status, 200, JSON.stringify(json.body));
    assert.deepEqual(json.body.outputs[0].data, elements.map((e) => e.toString('utf8')));

    const grpcAnswer = await client.call('ModelInfer', {
      model_name: 'simple_identity',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: ['1', '16'] }],
      raw_input_contents: [data],
    });
    assert.deepEqual(unpackBytes(Buffer.from(grpcAnswer.raw_output_contents[0])), elements);
  });

  /** One step of a sequence over gRPC: OUTPUT of a [1, 1] INT32 request. */
  async function step(model: string, value: number, id: string | number, start: boolean, end: boolean): Promise<number> {
    const response = await client.call('ModelInfer', {
      model_name: model,
      inputs: [{ name: 'INPUT', datatype: 'INT32', shape: ['1', '1'], contents: { int_contents: [value] } }],
      parameters: {
        sequence_id: typeof id === 'string' ? { string_param: id } : { int64_param: String(id) },
        sequence_start: { bool_param: start },
        sequence_end: { bool_param: end },
      },
    });
    return Buffer.from(response.raw_output_contents[0]).readInt32LE(0);
  }

  async function run(model: string, values: number[], id: string | number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < values.length; i++) out.push(await step(model, values[i]!, id, i === 0, i === values.length - 1));
    return out;
  }

  // The examples' inputs: [0] + values for one sequence, [100] + negated values for another.
  const values = [11, 7, 5, 3, 2, 0, 1];

  it('simple_sequence: the first step answers INPUT + 1, the others echo INPUT (no state)', async () => {
    assert.deepEqual(await run('simple_sequence', [0, ...values], 1000), [1, ...values]);
    assert.deepEqual(await run('simple_sequence', [20, ...values.map((v) => 0 - v)], 'a-string-id'), [21, ...values.map((v) => 0 - v)]);
  });

  it('simple_dyna_sequence adds the correlation ID on the last step', async () => {
    const expected = [1, ...values];
    expected[expected.length - 1]! += 1001;
    assert.deepEqual(await run('simple_dyna_sequence', [0, ...values], 1001), expected);
  });

  it('simple_string_dyna_sequence accumulates and adds its string correlation ID on the last step', async () => {
    const inputs = [20, ...values.map((v) => 0 - v)];
    let sum = 0;
    const expected = inputs.map((v) => (sum += v));
    expected[expected.length - 1]! += 1002;
    assert.deepEqual(await run('simple_string_dyna_sequence', inputs, '1002'), expected);
  });
});
