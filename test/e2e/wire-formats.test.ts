/**
 * Every datatype through every wire format gives back exactly what was sent: OIP REST JSON, binary
 * tensor data (plain, mixed with JSON, gzip/deflate both ways, raw), V1 REST rows and columns, and
 * OIP gRPC (raw contents, typed contents, the bidirectional stream). Models are identity models
 * generated here, so the expected values are the inputs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inflateSync, gunzipSync, gzipSync } from 'node:zlib';
import { identityModel } from '../../tools/modelgen/models.js';
import { GrpcInferenceClient, HttpInferenceClient } from '../../src/client/index.js';
import type { InferInput } from '../../src/client/index.js';
import { CASES, allTypesModel, comparable, modelName, type DatatypeCase } from '../helpers/datatype-cases.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const input = (c: DatatypeCase, name = 'INPUT', shape = [2, 3]): InferInput => ({ name, datatype: c.datatype, shape, data: c.data });

/** The JSON values of a case nested as rows of three, as V1 REST carries them. */
const rows = (values: unknown[]) => [values.slice(0, 3), values.slice(3, 6)];

describe('wire formats: every datatype, every HTTP and gRPC format', () => {
  let server: TestServer;
  let client: HttpInferenceClient;
  let grpcClient: GrpcInferenceClient;
  let cleanup: () => Promise<void>;

  before(async () => {
    const models: Parameters<typeof makeRepository>[0] = { all_types: { versions: { 1: allTypesModel() } } };
    for (const c of CASES) models[modelName(c.datatype)] = { versions: { 1: identityModel(c.onnx) } };
    const repo = await makeRepository(models);
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
    client = new HttpInferenceClient(server.url);
    grpcClient = new GrpcInferenceClient(server.grpcTarget);
  });
  after(async () => {
    await client.close();
    await grpcClient.close();
    await server.close();
    await cleanup();
  });

  for (const c of CASES) {
    describe(c.datatype, () => {
      const expected = comparable(c.data);
      const model = modelName(c.datatype);

      it('REST JSON and REST binary echo the input', async () => {
        for (const binary of [false, true]) {
          const result = await client.infer(model, [input(c)], { binary });
          const out = result.output('OUTPUT');
          assert.equal(out.datatype, c.datatype);
          assert.deepEqual(out.shape, [2, 3]);
          assert.deepEqual(comparable(out.data), expected, `binary=${binary}`);
        }
      });

      it('REST binary with gzip and deflate request and response bodies', async () => {
        for (const compress of ['gzip', 'deflate'] as const) {
          const result = await client.infer(model, [input(c)], { compress });
          assert.deepEqual(comparable(result.output('OUTPUT').data), expected, compress);
        }
      });

      it('raw binary request (Inference-Header-Content-Length: 0) answers in binary', async () => {
        const body = c.datatype === 'BYTES'
          ? Buffer.concat([Buffer.alloc(4), Buffer.from('one raw element')])
          : Buffer.from((c.data as Exclude<DatatypeCase['data'], string[]>).buffer.slice(0));
        if (c.datatype === 'BYTES') body.writeUInt32LE(body.length - 4, 0);
        const response = await fetch(`${server.url}/v2/models/${model}/infer`, {
          method: 'POST', headers: { 'inference-header-content-length': '0', 'content-type': 'application/octet-stream' }, body,
        });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('content-type'), 'application/octet-stream');
        const bytes = Buffer.from(await response.arrayBuffer());
        const headerLength = Number(response.headers.get('inference-header-content-length'));
        const header = JSON.parse(bytes.toString('utf8', 0, headerLength));
        const [out] = header.outputs;
        // One batch item: the body's bytes, echoed after the JSON header.
        assert.deepEqual(out.shape, c.datatype === 'BYTES' ? [1, 1] : [1, 6]);
        assert.equal(out.parameters.binary_data_size, body.length);
        assert.deepEqual(bytes.subarray(headerLength), body);
      });

      it('gRPC raw contents, typed contents (where the datatype has a field) and the stream echo the input', async () => {
        const raw = await grpcClient.infer(model, [input(c)]);
        assert.deepEqual(comparable(raw.output('OUTPUT').data), expected, 'raw');
        if (c.datatype !== 'FP16' && c.datatype !== 'BF16') {
          const typed = await grpcClient.infer(model, [input(c)], { contents: 'typed' });
          assert.deepEqual(comparable(typed.output('OUTPUT').data), expected, 'typed');
        }
        const stream = grpcClient.stream();
        const [first, second] = await Promise.all([stream.infer(model, [input(c)]), stream.infer(model, [input(c)], { id: 'again' })]);
        await stream.end();
        assert.deepEqual(comparable(first.output('OUTPUT').data), expected, 'stream');
        assert.equal(second.id, 'again');
        assert.deepEqual(comparable(second.output('OUTPUT').data), expected, 'stream');
      });

      it('V1 rows and columns return the values as JSON', async () => {
        const instances = rows(c.json);
        const predict = await server.post(`/v1/models/${model}:predict`, { instances });
        assert.equal(predict.status, 200, JSON.stringify(predict.body));
        assert.deepEqual(predict.body, { predictions: instances });
        const columnar = await server.post(`/v1/models/${model}/versions/1:predict`, { inputs: instances, signature_name: 'serving_default' });
        assert.equal(columnar.status, 200, JSON.stringify(columnar.body));
        assert.deepEqual(columnar.body, { outputs: instances });
      });
    });
  }

  it('one request mixing JSON and binary inputs and outputs across all datatypes', async () => {
    const inputs = CASES.map((c, i) => ({ ...input(c, `IN_${c.datatype}`), binary: i % 2 === 0 }));
    const outputs = CASES.map((c, i) => ({ name: `OUT_${c.datatype}`, binary: i % 3 === 0 }));
    const result = await client.infer('all_types', inputs, { outputs });
    for (const c of CASES) assert.deepEqual(comparable(result.output(`OUT_${c.datatype}`).data), comparable(c.data), c.datatype);
  });

  it('one gRPC request with every datatype (raw contents, as FP16 has no typed field), all outputs and a selection', async () => {
    const inputs = CASES.map((c) => input(c, `IN_${c.datatype}`));
    const all = await grpcClient.infer('all_types', inputs);
    for (const c of CASES) assert.deepEqual(comparable(all.output(`OUT_${c.datatype}`).data), comparable(c.data), c.datatype);
    const picked = CASES.filter((_, i) => i % 2 === 1);
    const some = await grpcClient.infer('all_types', inputs, { outputs: picked.map((c) => `OUT_${c.datatype}`) });
    assert.deepEqual(some.outputs.map((o) => o.name), picked.map((c) => `OUT_${c.datatype}`));
    for (const c of picked) assert.deepEqual(comparable(some.output(`OUT_${c.datatype}`).data), comparable(c.data), c.datatype);
  });

  it('V1 rows as {input: value} objects for a multi-input model, and named columns', async () => {
    const instances = [0, 1].map((row) => Object.fromEntries(CASES.map((c) => [`IN_${c.datatype}`, rows(c.json)[row]])));
    const predict = await server.post('/v1/models/all_types:predict', { instances });
    assert.equal(predict.status, 200, JSON.stringify(predict.body));
    assert.deepEqual(predict.body.predictions, [0, 1].map((row) => Object.fromEntries(CASES.map((c) => [`OUT_${c.datatype}`, rows(c.json)[row]]))));
    const columns = await server.post('/v1/models/all_types:predict', { inputs: Object.fromEntries(CASES.map((c) => [`IN_${c.datatype}`, rows(c.json)])) });
    assert.equal(columns.status, 200, JSON.stringify(columns.body));
    assert.deepEqual(columns.body.outputs, Object.fromEntries(CASES.map((c) => [`OUT_${c.datatype}`, rows(c.json)])));
  });

  it('binary keeps 64-bit integers beyond 2^53 exact; V1 takes {"b64"} BYTES values', async () => {
    const u64 = BigUint64Array.from([0n, 18446744073709551615n, 9007199254740993n]);
    const i64 = BigInt64Array.from([-9223372036854775808n, 9223372036854775807n, -9007199254740993n]);
    assert.deepEqual(comparable((await client.infer('id_uint64', [{ name: 'INPUT', datatype: 'UINT64', shape: [1, 3], data: u64 }])).output('OUTPUT').data), comparable(u64));
    assert.deepEqual(comparable((await client.infer('id_int64', [{ name: 'INPUT', datatype: 'INT64', shape: [1, 3], data: i64 }])).output('OUTPUT').data), comparable(i64));
    // ONNX Runtime's string tensors are JavaScript strings, so only UTF-8 survives the model itself;
    // non-UTF-8 output as {"b64"} is covered by test/unit/v1-codec.test.ts.
    const v1 = await server.post('/v1/models/id_bytes:predict', { instances: [[{ b64: Buffer.from('héllo').toString('base64') }, 'plain']] });
    assert.deepEqual(v1.body, { predictions: [['héllo', 'plain']] });
  });

  it('compresses responses only when Accept-Encoding asks, and inflates compressed requests', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'INPUT', shape: [1, 400], datatype: 'FP64', data: Array.from({ length: 400 }, (_, i) => i / 8) }] });
    const expected = Array.from({ length: 400 }, (_, i) => i / 8);
    for (const [accept, coding, decode] of [['gzip', 'gzip', gunzipSync], ['deflate;q=1, gzip;q=0.5', 'deflate', inflateSync]] as const) {
      // node:http-level request: fetch would decompress (and hide) the coding.
      const response = await rawPost(`${server.url}/v2/models/id_fp64/infer`, gzipSync(body), { 'content-type': 'application/json', 'content-encoding': 'gzip', 'accept-encoding': accept });
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-encoding'], coding);
      assert.deepEqual(JSON.parse(decode(response.body).toString()).outputs[0].data, expected);
    }
    const plain = await rawPost(`${server.url}/v2/models/id_fp64/infer`, Buffer.from(body), { 'content-type': 'application/json' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.deepEqual(JSON.parse(plain.body.toString()).outputs[0].data, expected);
  });
});

async function rawPost(url: string, body: Buffer, headers: Record<string, string>) {
  const { request } = await import('node:http');
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
