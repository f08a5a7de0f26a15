/**
 * The binary tensor data extension at the byte level: a request built exactly as Triton's Python
 * client (tritonclient.http) builds it, a response parsed as that client parses it, and malformed
 * framing answered with 400 and a message that names the problem — with the server still serving.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { identityModel, simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const int32s = (values: number[]) => Buffer.from(Int32Array.from(values).buffer);
const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

/** A request body as `json` header + binary sections, with its header length. */
function framed(json: unknown, ...sections: Buffer[]): { body: Buffer; headerLength: number } {
  // tritonclient serialises with Python's json.dumps defaults: ", " and ": " separators.
  const text = JSON.stringify(json).replace(/,"/g, ', "').replace(/":/g, '": ');
  const header = Buffer.from(text);
  return { body: Buffer.concat([header, ...sections]), headerLength: header.length };
}

describe('binary tensor data framing', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  const post = (path: string, body: Buffer, headers: Record<string, string>) => fetch(server.url + path, { method: 'POST', headers, body });

  before(async () => {
    const repo = await makeRepository({
      simple: { versions: { 1: simpleModel() }, config: { max_batch_size: 8 } },
      id_fp32: { versions: { 1: identityModel('FLOAT') } },
      id_bytes: { versions: { 1: identityModel('STRING') } },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  it('advertises binary_tensor_data in GET /v2', async () => {
    assert.ok((await server.get('/v2')).body.extensions.includes('binary_tensor_data'));
  });

  it("accepts tritonclient.http's exact request bytes and answers in the framing it parses", async () => {
    const a = range(16, (i) => i * 3 - 7);
    const b = range(16, (i) => 100 - i);
    // InferInput.set_data_from_numpy(binary_data=True), InferRequestedOutput(binary_data=True) / (binary_data=False).
    const { body, headerLength } = framed({
      inputs: [
        { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } },
        { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } },
      ],
      outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }, { name: 'OUTPUT1', parameters: { binary_data: false } }],
    }, int32s(a), int32s(b));
    const response = await post('/v2/models/simple/infer', body, { 'Inference-Header-Content-Length': String(headerLength) });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/octet-stream');
    const bytes = Buffer.from(await response.arrayBuffer());
    const length = Number(response.headers.get('inference-header-content-length'));
    const header = JSON.parse(bytes.toString('utf8', 0, length));
    assert.equal(length % 8, 0, 'the JSON header is space-padded so binary outputs start aligned');
    // The client walks outputs in order, taking binary_data_size bytes for each binary one.
    const [out0, out1] = header.outputs;
    assert.deepEqual({ ...out0, parameters: undefined }, { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16], parameters: undefined });
    assert.equal(out0.parameters.binary_data_size, 64);
    assert.equal(bytes.length, length + 64);
    const sum = new Int32Array(bytes.buffer.slice(bytes.byteOffset + length, bytes.byteOffset + length + 64));
    assert.deepEqual(Array.from(sum), a.map((x, i) => x + b[i]!));
    assert.deepEqual(out1.data, a.map((x, i) => x - b[i]!));
  });

  it('binary_data_output: true returns every output in binary, in output order', async () => {
    const a = range(16, (i) => i);
    const b = range(16, () => 5);
    const { body, headerLength } = framed({
      inputs: [
        { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } },
        { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: b },
      ],
      parameters: { binary_data_output: true },
    }, int32s(a));
    const response = await post('/v2/models/simple/infer', body, { 'inference-header-content-length': String(headerLength), 'content-type': 'application/json' });
    assert.equal(response.status, 200);
    const bytes = Buffer.from(await response.arrayBuffer());
    const length = Number(response.headers.get('inference-header-content-length'));
    const header = JSON.parse(bytes.toString('utf8', 0, length));
    let offset = length;
    const values: Record<string, number[]> = {};
    for (const o of header.outputs) {
      values[o.name] = Array.from(new Int32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + o.parameters.binary_data_size)));
      offset += o.parameters.binary_data_size;
    }
    assert.equal(offset, bytes.length);
    assert.deepEqual(values, { OUTPUT0: a.map((x) => x + 5), OUTPUT1: a.map((x) => x - 5) });
  });

  it('a megabyte answer arrives whole, with a Content-Length that counts every byte', async () => {
    // Large answers are written in parts rather than joined; the framing must not notice.
    const n = 300_000;
    const values = Float32Array.from({ length: n }, (_, i) => (i % 977) * 0.25 - 100);
    const { body, headerLength } = framed({
      inputs: [{ name: 'INPUT', shape: [1, n], datatype: 'FP32', parameters: { binary_data_size: n * 4 } }],
      parameters: { binary_data_output: true },
    }, Buffer.from(values.buffer));
    const response = await post('/v2/models/id_fp32/infer', body, { 'inference-header-content-length': String(headerLength) });
    assert.equal(response.status, 200);
    const bytes = Buffer.from(await response.arrayBuffer());
    assert.equal(Number(response.headers.get('content-length')), bytes.length);
    const length = Number(response.headers.get('inference-header-content-length'));
    const header = JSON.parse(bytes.toString('utf8', 0, length));
    assert.deepEqual(header.outputs.map((o: { name: string; shape: number[]; parameters: { binary_data_size: number } }) => [o.name, o.shape, o.parameters.binary_data_size]), [['OUTPUT', [1, n], n * 4]]);
    assert.equal(bytes.length, length + n * 4);
    assert.ok(Buffer.from(values.buffer).equals(bytes.subarray(length)), 'the output bytes are the input bytes');
  });

  describe('malformed framing is a 400 that says what is wrong', () => {
    const good = () => framed({
      inputs: [
        { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } },
        { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } },
      ],
    }, int32s(range(16, (i) => i)), int32s(range(16, (i) => i)));

    const cases: { name: string; build: () => { body: Buffer; headers: Record<string, string>; path?: string }; message: RegExp; status?: number }[] = [
      {
        name: 'header length beyond the body',
        build: () => ({ body: good().body, headers: { 'inference-header-content-length': String(good().body.length + 1) } }),
        message: /Inference-Header-Content-Length is \d+ but the body has only \d+ bytes/,
      },
      {
        name: 'header length that is not a number',
        build: () => ({ body: good().body, headers: { 'inference-header-content-length': 'abc' } }),
        message: /Inference-Header-Content-Length must be a non-negative integer/,
      },
      {
        name: 'header length cutting the JSON short',
        build: () => ({ body: good().body, headers: { 'inference-header-content-length': '20' } }),
        message: /JSON header \(first 20 bytes.*is not valid JSON/,
      },
      {
        name: 'binary_data_size not matching the shape',
        build: () => {
          const { body, headerLength } = framed({
            inputs: [
              { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 60 } },
              { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 68 } },
            ],
          }, int32s(range(16, (i) => i)), int32s(range(16, (i) => i)));
          return { body, headers: { 'inference-header-content-length': String(headerLength) } };
        },
        message: /input "INPUT0": binary_data_size is 60 bytes but shape \[1,16\] of INT32 needs 64/,
      },
      {
        name: 'binary_data_size missing on a binary input',
        build: () => {
          const { body, headerLength } = framed({
            inputs: [
              { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } },
              { name: 'INPUT1', shape: [1, 16], datatype: 'INT32' },
            ],
          }, int32s(range(16, (i) => i)), int32s(range(16, (i) => i)));
          return { body, headers: { 'inference-header-content-length': String(headerLength) } };
        },
        message: /input "INPUT1": has neither "data" nor a binary_data_size parameter/,
      },
      {
        name: 'binary_data_size past the end of the body',
        build: () => {
          const { body, headerLength } = framed({
            inputs: [
              { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } },
              { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } },
            ],
          }, int32s(range(16, (i) => i)), int32s(range(8, (i) => i)));
          return { body, headers: { 'inference-header-content-length': String(headerLength) } };
        },
        message: /input "INPUT1": binary_data_size 64 runs past the end of the body \(32 bytes of binary data remain\)/,
      },
      {
        name: 'bytes left over after the last input',
        build: () => {
          const { body, headerLength } = good();
          return { body: Buffer.concat([body, Buffer.alloc(5)]), headers: { 'inference-header-content-length': String(headerLength) } };
        },
        message: /5 bytes of binary data beyond the inputs' binary_data_size total \(128 bytes\)/,
      },
      {
        name: 'a truncated BYTES element',
        build: () => {
          const element = Buffer.alloc(4 + 3);
          element.writeUInt32LE(10, 0); // claims 10 bytes, carries 3
          const { body, headerLength } = framed({ inputs: [{ name: 'INPUT', shape: [1, 1], datatype: 'BYTES', parameters: { binary_data_size: 7 } }] }, element);
          return { body, headers: { 'inference-header-content-length': String(headerLength) }, path: '/v2/models/id_bytes/infer' };
        },
        message: /input "INPUT": BYTES element 0 declares 10 bytes but only 3 remain/,
      },
      {
        name: 'a raw request to a model with two inputs',
        build: () => ({ body: int32s(range(16, (i) => i)), headers: { 'inference-header-content-length': '0' } }),
        message: /raw binary request .* needs a model with exactly one input; "simple" has 2/,
      },
      {
        name: 'a raw request whose size is not a whole number of elements',
        build: () => ({ body: Buffer.alloc(10), headers: { 'inference-header-content-length': '0' }, path: '/v2/models/id_fp32/infer' }),
        message: /raw body of 10 bytes is not a whole number/,
      },
      {
        name: 'a body that is not gzip although Content-Encoding says so',
        build: () => ({ body: good().body, headers: { 'inference-header-content-length': String(good().headerLength), 'content-encoding': 'gzip' } }),
        message: /could not be decompressed/,
      },
      {
        name: 'an unsupported Content-Encoding',
        build: () => ({ body: good().body, headers: { 'inference-header-content-length': String(good().headerLength), 'content-encoding': 'compress' } }),
        // Triton answers an /infer body coding it does not support with 501 (triton-request-coding.test.ts).
        message: /^Unsupported compression type "compress"/,
        status: 501,
      },
    ];

    for (const c of cases) {
      it(c.name, async () => {
        const { body, headers, path } = c.build();
        const response = await post(path ?? '/v2/models/simple/infer', body, headers);
        const text = await response.text();
        assert.equal(response.status, c.status ?? 400, text);
        assert.match(JSON.parse(text).error, c.message);
      });
    }

    it('the server keeps serving after all of them', async () => {
      const { body, headerLength } = good();
      const response = await post('/v2/models/simple/infer', body, { 'inference-header-content-length': String(headerLength) });
      assert.equal(response.status, 200);
      const json = await response.json() as { outputs: { name: string; data: number[] }[] };
      assert.deepEqual(json.outputs.find((o) => o.name === 'OUTPUT0')!.data, range(16, (i) => 2 * i));
    });
  });

  it('a compressed body that inflates past the body limit is refused (Triton\'s 400) and the server stays ready', async () => {
    const bomb = gzipSync(Buffer.alloc(65 * 1024 * 1024)); // ~64 KB that inflates past the 64 MiB default limit
    const response = await post('/v2/models/simple/infer', bomb, { 'content-encoding': 'gzip', 'content-type': 'application/json' });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { error: string }).error, /request JSON size of more than 67108864 bytes exceeds the maximum allowed input size of 67108864 bytes/);
    assert.equal((await server.get('/v2/health/ready')).status, 200);
  });
});
