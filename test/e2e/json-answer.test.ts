/**
 * Large numeric outputs answered as REST JSON (written straight into a Buffer, json-answer.ts) are the
 * bytes JSON.stringify gives for the same values, with the serializer's content type and a
 * Content-Length that counts them, and compressed when the client asks. Inputs go in through the
 * binary extension, so NaN, ±Infinity, -0 and subnormals reach the identity models as they are.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { identityModel } from '../../tools/modelgen/models.js';
import type { ElemType } from '../../tools/modelgen/onnx-graph.js';
import { fromHalfBits } from '../../src/core/half-float.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Above the deferral threshold (4096) and not a multiple of the writer's blocks. */
const N = 5003;

/** Random bits per type, then the values a JSON answer holds for them (64-bit beyond 2^53 as exact digits). */
const CASES: { datatype: string; elem: ElemType; raw: () => Buffer; json: (raw: Buffer) => string }[] = [
  {
    datatype: 'FP32', elem: 'FLOAT',
    raw: () => {
      const v = new Float32Array(randomBytes(4 * N).buffer);
      v.set([0, -0, NaN, Infinity, -Infinity, 1.401298464324817e-45, -3.4028234663852886e38, 0.1]);
      return Buffer.from(v.buffer);
    },
    json: (raw) => JSON.stringify(Array.from(new Float32Array(raw.buffer, raw.byteOffset, N))),
  },
  {
    datatype: 'FP64', elem: 'DOUBLE',
    raw: () => {
      const v = new Float64Array(randomBytes(8 * N).buffer);
      v.set([-0, NaN, -Infinity, 5e-324, -0.0000012345678901234567, 1e21]);
      return Buffer.from(v.buffer);
    },
    json: (raw) => JSON.stringify(Array.from(new Float64Array(raw.buffer, raw.byteOffset, N))),
  },
  {
    datatype: 'FP16', elem: 'FLOAT16',
    raw: () => randomBytes(2 * N),
    json: (raw) => JSON.stringify(Array.from(new Uint16Array(raw.buffer, raw.byteOffset, N), fromHalfBits)),
  },
  {
    datatype: 'INT64', elem: 'INT64',
    raw: () => randomBytes(8 * N),
    json: (raw) => `[${Array.from(new BigInt64Array(raw.buffer, raw.byteOffset, N), String).join(',')}]`,
  },
  {
    datatype: 'BOOL', elem: 'BOOL',
    raw: () => Buffer.from(randomBytes(N).map((b) => b & 1)),
    json: (raw) => JSON.stringify(Array.from(raw, (b) => b !== 0)),
  },
  {
    datatype: 'UINT32', elem: 'UINT32',
    raw: () => randomBytes(4 * N),
    json: (raw) => JSON.stringify(Array.from(new Uint32Array(raw.buffer, raw.byteOffset, N))),
  },
];

function framed(header: unknown, data: Buffer): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, data]), headerLength: json.length };
}

describe('large numeric outputs as REST JSON', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  before(async () => {
    const models = Object.fromEntries(CASES.map(({ datatype, elem }) => [`id_${datatype.toLowerCase()}`, { versions: { 1: identityModel(elem) } }]));
    const repo = await makeRepository(models);
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  for (const { datatype, raw, json } of CASES) {
    it(`${datatype}: the bytes JSON.stringify writes, plain and gzipped`, async () => {
      const model = `id_${datatype.toLowerCase()}`;
      const data = raw();
      const { body, headerLength } = framed({ id: 'r1', inputs: [{ name: 'INPUT', datatype, shape: [1, N], parameters: { binary_data_size: data.length } }] }, data);
      const expected = `{"model_name":"${model}","model_version":"1","id":"r1","outputs":[{"name":"OUTPUT","datatype":"${datatype}","shape":[1,${N}],"data":${json(data)}}]}`;
      for (const encoding of ['identity', 'gzip']) {
        const response = await fetch(`${server.url}/v2/models/${model}/infer`, {
          method: 'POST', body, headers: { 'inference-header-content-length': String(headerLength), 'accept-encoding': encoding },
        });
        const bytes = Buffer.from(await response.arrayBuffer());
        assert.equal(response.status, 200, bytes.toString());
        assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
        assert.equal(response.headers.get('inference-header-content-length'), null);
        if (encoding === 'gzip') {
          // fetch hands a gzipped body over inflated: the coding and the text are what count here.
          assert.equal(response.headers.get('content-encoding'), 'gzip');
          assert.equal(bytes.toString(), expected);
        } else {
          assert.equal(response.headers.get('content-encoding'), null);
          assert.equal(Number(response.headers.get('content-length')), bytes.length);
          assert.equal(bytes.toString(), expected);
        }
      }
    });
  }

  it('the same output asked in binary still comes as binary', async () => {
    const data = randomBytes(4 * N);
    const { body, headerLength } = framed({ inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, N], parameters: { binary_data_size: data.length } }], parameters: { binary_data_output: true } }, data);
    const response = await fetch(`${server.url}/v2/models/id_fp32/infer`, { method: 'POST', body, headers: { 'inference-header-content-length': String(headerLength) } });
    assert.equal(response.status, 200);
    const bytes = Buffer.from(await response.arrayBuffer());
    const length = Number(response.headers.get('inference-header-content-length'));
    assert.ok(data.equals(bytes.subarray(length)));
  });

  it('a gzipped answer inflates to the same bytes', async () => {
    const data = randomBytes(8 * N);
    const { body, headerLength } = framed({ inputs: [{ name: 'INPUT', datatype: 'FP64', shape: [1, N], parameters: { binary_data_size: data.length } }] }, data);
    // node:http rather than fetch, which would inflate it on its own.
    const url = new URL(`${server.url}/v2/models/id_fp64/infer`);
    const raw = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'inference-header-content-length': String(headerLength), 'accept-encoding': 'gzip', 'content-length': body.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(raw.headers['content-encoding'], 'gzip');
    const text = gunzipSync(raw.body).toString();
    assert.ok(text.endsWith(`"data":${JSON.stringify(Array.from(new Float64Array(data.buffer, data.byteOffset, N)))}}]}`));
  });
});
