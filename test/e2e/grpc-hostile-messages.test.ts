/**
 * gRPC messages that cannot be decoded, or would cost far more to decode than their size, over
 * bare HTTP/2 frames: the answer is INVALID_ARGUMENT (or RESOURCE_EXHAUSTED past a bound, naming
 * its option), at once, and the server keeps answering everyone else.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { ClientHttp2Session } from 'node:http2';
import { identityModel, simpleModel } from '../../tools/modelgen/models.js';
import { DEFAULT_BYTES_LIMITS } from '../../src/core/bytes-limits.js';
import { assertStatus, grpc, healthClient, rawOutputValues, type RpcClient, streamInfer, tritonClient } from '../helpers/grpc.js';
import { INFER_PATH, frame, pb, rawCall, rawSession } from '../helpers/raw-grpc.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const { INVALID_ARGUMENT, RESOURCE_EXHAUSTED } = grpc.status;

/** ModelInferRequest for identity_bytes with `count` one-byte typed BYTES elements, written without protobufjs. */
function typedBytesRequest(count: number): Buffer {
  const element = pb.bytes(8, 'a'); // 3 bytes: tag, length, 'a'
  const contents = Buffer.alloc(element.length * count);
  for (let i = 0; i < count; i++) element.copy(contents, i * element.length);
  const shape = Buffer.concat([pb.int(3, 1), pb.int(3, count)]);
  const input = pb.message(5, pb.bytes(1, 'INPUT'), pb.bytes(2, 'BYTES'), shape, pb.bytes(5, contents));
  return Buffer.concat([pb.bytes(1, 'identity_bytes'), input]);
}

describe('gRPC: undecodable and over-costly messages', () => {
  let server: TestServer;
  let client: RpcClient;
  let session: ClientHttp2Session;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      identity_bytes: { versions: { 1: identityModel('STRING') } },
      simple: { versions: { 1: simpleModel() } },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
    client = tritonClient(server.grpcTarget);
    session = rawSession(server.grpcTarget);
  });
  after(async () => {
    session.close();
    client.close();
    await server.close();
    await cleanup();
  });

  const cases: [string, Buffer, Record<string, string>?, number?][] = [
    ['random bytes', Buffer.from('this is not a protobuf message at all \xff\xff\xff\xff', 'latin1')],
    ['a wire type that does not exist (7)', Buffer.concat([pb.tag(1, 7), Buffer.from([1, 2, 3])])],
    ['model_name sent as a varint whose value overruns the message', Buffer.concat([pb.tag(1, 0), pb.varint(300), Buffer.from('abc')])],
    ['a truncated length-delimited field', Buffer.concat([pb.tag(5, 2), pb.varint(1000), Buffer.from('short')])],
    ['a compressed flag with gzip declared but a body that is not gzip', Buffer.from('not gzip at all'), { 'grpc-encoding': 'gzip' }, 1],
    ['a compressed flag without any grpc-encoding, over garbage', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), {}, 1],
  ];
  for (const [what, body, headers, flag] of cases) {
    it(`ModelInfer with ${what}: INVALID_ARGUMENT`, async () => {
      const answer = await rawCall(session, INFER_PATH, frame(body, flag ?? 0), headers);
      // protobufjs reads the overrunning varint leniently into some message; the model named is then
      // checked first (Triton's order), so NOT_FOUND is as right an answer as INVALID_ARGUMENT there.
      const expected = what.includes('overruns') ? [INVALID_ARGUMENT, grpc.status.NOT_FOUND] : [INVALID_ARGUMENT];
      assert.ok(expected.includes(answer.status), `status ${grpc.status[answer.status]}: ${answer.message}`);
      assert.ok(answer.message.length > 0 && answer.message.length < 400, answer.message);
    });
  }

  it('a gzip-compressed valid message is still served (the compression path works)', async () => {
    const message = Buffer.concat([pb.bytes(1, 'identity_bytes'), pb.message(5, pb.bytes(1, 'INPUT'), pb.bytes(2, 'BYTES'), pb.int(3, 1), pb.int(3, 2), pb.message(5, pb.bytes(8, 'xy'), pb.bytes(8, 'z')))]);
    const answer = await rawCall(session, INFER_PATH, frame(gzipSync(message), 1), { 'grpc-encoding': 'gzip' });
    assert.equal(answer.status, 0, answer.message);
    assert.equal(answer.messages.length, 1);
  });

  it('health Check and an unimplemented RPC with garbage: INVALID_ARGUMENT, and health still answers', async () => {
    const check = await rawCall(session, '/grpc.health.v1.Health/Check', frame(Buffer.from([0x0f])));
    assert.equal(check.status, INVALID_ARGUMENT, check.message);
    const cuda = await rawCall(session, '/inference.GRPCInferenceService/CudaSharedMemoryStatus', frame(Buffer.from([0x0f])));
    assert.equal(cuda.status, INVALID_ARGUMENT, cuda.message);
    const health = healthClient(server.grpcTarget);
    assert.equal((await health.call('Check', { service: '' })).status, 'SERVING');
    health.close();
  });

  it('a stream answers an undecodable message in error_message and goes on with the next request', async () => {
    const stream = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelStreamInfer', 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    let status = -1;
    stream.on('trailers', (h) => { status = Number(h['grpc-status']); });
    const valid = Buffer.concat([pb.bytes(1, 'identity_bytes'), pb.bytes(3, 'after'), pb.message(5, pb.bytes(1, 'INPUT'), pb.bytes(2, 'BYTES'), pb.int(3, 1), pb.int(3, 1), pb.message(5, pb.bytes(8, 'ok')))]);
    stream.write(frame(Buffer.from([0x0a, 0xff, 0xff])));
    stream.end(frame(valid));
    await new Promise((resolve) => stream.on('close', resolve));
    assert.equal(status, 0);
    const all = Buffer.concat(chunks);
    // Two response messages: the first carries an error_message (field 1), the second the answer to "after".
    const first = all.subarray(5, 5 + all.readUInt32BE(1));
    assert.equal(first[0], 0x0a, 'the first answer has an error_message');
    assert.match(first.toString('latin1'), /not a valid ModelStreamInfer request/);
    const second = all.subarray(10 + first.length);
    assert.ok(second.includes(Buffer.from('after')) && second.includes(Buffer.from('ok')), 'the valid request was answered with its own data');
  });

  it(`~31 MB of one-byte BYTES elements (10.5 M, typed): RESOURCE_EXHAUSTED naming --max-bytes-elements, health answers meanwhile`, async () => {
    const message = typedBytesRequest(10_500_000);
    assert.ok(message.length < 64 * 1024 * 1024 && message.length > 30_000_000);
    const health = healthClient(server.grpcTarget);
    const pending = rawCall(session, INFER_PATH, frame(message));
    assert.equal((await health.call('Check', { service: '' })).status, 'SERVING');
    const answer = await pending;
    assert.equal(answer.status, RESOURCE_EXHAUSTED, `status ${grpc.status[answer.status]}: ${answer.message.slice(0, 300)}`);
    assert.match(answer.message, /10500000 BYTES elements exceed the limit of 131072 per request \(--max-bytes-elements\)/);
    assert.equal((await health.call('Check', { service: '' })).status, 'SERVING');
    health.close();
  });

  it('BYTES elements at the bound are served; one more is refused (typed and raw)', async () => {
    const limit = DEFAULT_BYTES_LIMITS.maxElements;
    const ok = await rawCall(session, INFER_PATH, frame(typedBytesRequest(limit)));
    assert.equal(ok.status, 0, ok.message);
    assert.equal(ok.messages.length, 1);
    assert.equal(ok.messages[0]!.subarray().indexOf(Buffer.from('identity_bytes')) >= 0, true);
    const over = await rawCall(session, INFER_PATH, frame(typedBytesRequest(limit + 1)));
    assert.equal(over.status, RESOURCE_EXHAUSTED, over.message);
    const raw = Buffer.alloc(5 * (limit + 1));
    for (let i = 0; i < limit + 1; i++) { raw.writeUInt32LE(1, 5 * i); raw[5 * i + 4] = 98; }
    await assertStatus(client.call('ModelInfer', {
      model_name: 'identity_bytes', inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1, limit + 1] }], raw_input_contents: [raw],
    }), RESOURCE_EXHAUSTED, /--max-bytes-elements/);
  });

  it('REST JSON and the binary extension: over the bound is 413 naming the option', async () => {
    const n = DEFAULT_BYTES_LIMITS.maxElements + 1;
    const json = await server.post('/v2/models/identity_bytes/infer', { inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1, n], data: Array.from({ length: n }, () => 'a') }] });
    assert.equal(json.status, 413, JSON.stringify(json.body).slice(0, 200));
    assert.match(json.body.error, /--max-bytes-elements/);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1, n], parameters: { binary_data_size: 5 * n } }] }));
    const tensor = Buffer.alloc(5 * n);
    for (let i = 0; i < n; i++) { tensor.writeUInt32LE(1, 5 * i); tensor[5 * i + 4] = 99; }
    const binary = await server.post('/v2/models/identity_bytes/infer', Buffer.concat([header, tensor]), { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) });
    assert.equal(binary.status, 413, JSON.stringify(binary.body).slice(0, 200));
    assert.match(binary.body.error, /--max-bytes-elements/);
  });

  it('the server still serves after all of it', async () => {
    const response = await streamInfer(client, [{ model_name: 'simple', inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: Array.from({ length: 16 }, (_, i) => i) } },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: Array.from({ length: 16 }, () => 1) } },
    ] }]);
    assert.equal(response[0].error_message, '');
    assert.deepEqual(rawOutputValues(response[0].infer_response, response[0].infer_response.outputs[0].name), Array.from({ length: 16 }, (_, i) => i + 1));
  });
});
