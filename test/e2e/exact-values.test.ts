/**
 * Values never silently changed: 64-bit integers beyond ±2^53 in JSON in and out exactly, BYTES that
 * are not UTF-8 refused in a JSON answer (binary carries them), and NUL bytes never cut at an ONNX
 * string input. Responses are read as text: JSON.parse in the test would itself round the integers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { identityModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Echoes its BYTES input (a handler model: bytes reach it as they are). */
const echo = 'export function execute(requests) { return requests.map((r) => ({ outputs: { OUT: { data: r.inputs.IN.data } } })); }';

const INT64 = ['-9223372036854775808', '9223372036854775807', '9007199254740993', '-9007199254740993', '0', '-1', '42'];
const UINT64 = ['18446744073709551615', '9007199254740993', '0', '1'];

async function postText(server: TestServer, path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

describe('exact values', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      id_int64: { config: { max_batch_size: 0 }, versions: { 1: identityModel('INT64', ['n']) } },
      id_uint64: { config: { max_batch_size: 0 }, versions: { 1: identityModel('UINT64', ['n']) } },
      id_string: { config: { max_batch_size: 0 }, versions: { 1: identityModel('STRING', ['n']) } },
      echo_bytes: {
        config: { backend: 'typescript', max_batch_size: 0, input: [{ name: 'IN', data_type: 'TYPE_STRING', dims: [-1] }], output: [{ name: 'OUT', data_type: 'TYPE_STRING', dims: [-1] }] },
        versions: { 1: echo },
        filename: 'model.js',
      },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  const request = (model: string, datatype: string, literals: string[]) =>
    `{"inputs":[{"name":"x","datatype":"${datatype}","shape":[${literals.length}],"data":[${literals.join(',')}]}]}`;

  it('INT64 min, max and 2^53+1 go in and come back exactly as JSON numbers', async () => {
    const model = 'id_int64';
    const input = (await server.get(`/v2/models/${model}`)).body.inputs[0].name;
    const { status, text } = await postText(server, `/v2/models/${model}/infer`, request(model, 'INT64', INT64).replace('"x"', `"${input}"`));
    assert.equal(status, 200, text);
    assert.ok(text.includes(`"data":[${INT64.join(',')}]`), text);
  });

  it('UINT64 max comes back exactly; beyond it is refused', async () => {
    const input = (await server.get('/v2/models/id_uint64')).body.inputs[0].name;
    const ok = await postText(server, '/v2/models/id_uint64/infer', request('id_uint64', 'UINT64', UINT64).replace('"x"', `"${input}"`));
    assert.equal(ok.status, 200, ok.text);
    assert.ok(ok.text.includes(`"data":[${UINT64.join(',')}]`), ok.text);
    const over = await postText(server, '/v2/models/id_uint64/infer', request('id_uint64', 'UINT64', ['18446744073709551616']).replace('"x"', `"${input}"`));
    assert.equal(over.status, 400);
    assert.match(JSON.parse(over.text).error, /element 0 \(18446744073709551616\) is not a valid UINT64 value/);
  });

  it('exact in the binary extension\'s JSON header too', async () => {
    const input = (await server.get('/v2/models/id_int64')).body.inputs[0].name;
    const header = `{"inputs":[{"name":"${input}","datatype":"INT64","shape":[2],"data":[9223372036854775807,-9223372036854775808]}],"outputs":[{"name":"${(await server.get('/v2/models/id_int64')).body.outputs[0].name}","parameters":{"binary_data":true}}]}`;
    const response = await fetch(`${server.url}/v2/models/id_int64/infer`, {
      method: 'POST', headers: { 'inference-header-content-length': String(Buffer.byteLength(header)) }, body: header,
    });
    assert.equal(response.status, 200);
    const body = Buffer.from(await response.arrayBuffer());
    const jsonLength = Number(response.headers.get('inference-header-content-length'));
    const values = new BigInt64Array(body.buffer.slice(body.byteOffset + jsonLength, body.byteOffset + body.length));
    assert.deepEqual([...values], [2n ** 63n - 1n, -(2n ** 63n)]);
  });

  it('a float with many digits is not mistaken for a large integer', async () => {
    const input = (await server.get('/v2/models/id_int64')).body.inputs[0].name;
    const { status, text } = await postText(server, '/v2/models/id_int64/infer', request('id_int64', 'INT64', ['0.30000000000000004']).replace('"x"', `"${input}"`));
    assert.equal(status, 400);
    assert.match(JSON.parse(text).error, /is not a valid INT64 value/);
  });

  it('BYTES that are not UTF-8: binary output carries them, a JSON answer is an error that says to ask for binary', async () => {
    const bytes = Buffer.from([0x61, 0xff, 0xfe, 0x00, 0x62]);
    const json = { inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1], data: [{ b64: bytes.toString('base64') }] }] };
    const refused = await server.post('/v2/models/echo_bytes/infer', json);
    assert.equal(refused.status, 400);
    assert.match(refused.body.error, /output "OUT": element 0 is not valid UTF-8.*request the output as binary data/);
    // {"b64"} that is not base64 is refused (Buffer.from skipped the bad characters: "!!!" became no bytes).
    for (const b64 of ['!!!', 'YWJj!', 'a', 'YQ===']) {
      const bad = await server.post('/v2/models/echo_bytes/infer', { inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1], data: [{ b64 }] }] });
      assert.equal(bad.status, 400, b64);
      assert.match(bad.body.error, /element 0 is not valid base64/, b64);
    }
    // Unpadded and URL-safe base64 are read as the clients send them.
    for (const b64 of ['YWJj', 'YWI', 'YWI=', '-_8']) {
      const good = await server.post('/v2/models/echo_bytes/infer', { inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1], data: [{ b64 }] }], outputs: [{ name: 'OUT', parameters: { binary_data: false } }] });
      assert.ok(good.status === 200 || /not valid UTF-8/.test(good.body.error), `${b64}: ${JSON.stringify(good.body)}`);
    }
    const header = JSON.stringify({ ...json, outputs: [{ name: 'OUT', parameters: { binary_data: true } }] });
    const response = await fetch(`${server.url}/v2/models/echo_bytes/infer`, {
      method: 'POST', headers: { 'inference-header-content-length': String(Buffer.byteLength(header)) }, body: header,
    });
    assert.equal(response.status, 200);
    const body = Buffer.from(await response.arrayBuffer());
    const binary = body.subarray(Number(response.headers.get('inference-header-content-length')));
    assert.equal(binary.readUInt32LE(0), bytes.length);
    assert.deepEqual(binary.subarray(4), bytes);
  });

  it('a NUL byte reaches a handler model whole and is refused by an ONNX string input with the reason', async () => {
    const whole = await server.post('/v2/models/echo_bytes/infer', { inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1], data: ['a\u0000b'] }] });
    assert.equal(whole.status, 200);
    assert.deepEqual(whole.body.outputs[0].data, ['a\u0000b']);
    const meta = (await server.get('/v2/models/id_string')).body;
    const refused = await server.post('/v2/models/id_string/infer', { inputs: [{ name: meta.inputs[0].name, datatype: 'BYTES', shape: [2], data: ['fine', 'a\u0000b'] }] });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error, /element 1 contains a NUL byte, which an ONNX Runtime string tensor cannot hold/);
    const invalid = await server.post('/v2/models/id_string/infer', { inputs: [{ name: meta.inputs[0].name, datatype: 'BYTES', shape: [1], data: [{ b64: Buffer.from([0xff]).toString('base64') }] }] });
    assert.equal(invalid.status, 400);
    assert.match(invalid.body.error, /element 0 is not valid UTF-8/);
    const text = await server.post('/v2/models/id_string/infer', { inputs: [{ name: meta.inputs[0].name, datatype: 'BYTES', shape: [2], data: ['héllo', '✓'] }] });
    assert.deepEqual(text.body.outputs[0].data, ['héllo', '✓']);
  });

  it('a body nested deeper than Triton\'s 100 levels is refused before parsing; nested data that follows its shape is read', async () => {
    const nest = (depth: number) => '['.repeat(depth) + '7' + ']'.repeat(depth);
    const input = (await server.get('/v2/models/id_int64')).body.inputs[0].name;
    const body = (depth: number, shape: string) => `{"inputs":[{"name":"${input}","datatype":"INT64","shape":${shape},"data":${nest(depth)}}]}`;
    // Nested data must follow the shape (the hardening issue); the whole body counts toward the depth limit.
    const ok = await postText(server, '/v2/models/id_int64/infer', body(1, '[1]'));
    assert.equal(ok.status, 200, ok.text);
    const deep = await postText(server, '/v2/models/id_int64/infer', body(101, '[1]'));
    assert.equal(deep.status, 413);
    assert.match(JSON.parse(deep.text).error, /deeper than the limit of 100 levels \(--http-max-json-depth\)/);
  });
});
