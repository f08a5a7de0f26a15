/**
 * Wire details Triton's clients depend on: duplicate output names refused, the unknown model
 * reported before input errors, compression only on inference answers, GET /v2/ as GET /v2.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { identityModel, simpleModel } from '../../tools/modelgen/models.js';
import { grpc, serveWithGrpcClient, type RpcClient } from '../helpers/grpc.js';
import type { TestServer } from '../helpers/server.js';
import { range16, simpleRequest } from '../helpers/simple.js';

/** A request with the answer's raw bytes and headers (fetch would inflate a gzipped answer itself). */
function rawRequest(url: string, method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = httpRequest({ hostname, port, path, method, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject).end(body);
  });
}

describe('Triton wire details', () => {
  let server: TestServer;
  let client: RpcClient;
  let close: () => Promise<void>;

  before(async () => {
    ({ server, client, close } = await serveWithGrpcClient({
      simple: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } },
      wide: { config: { max_batch_size: 0 }, versions: { 1: identityModel('FLOAT', [512]) } },
    }));
  });
  after(() => close());

  it('an output named twice in one request is refused: 400 over REST, INVALID_ARGUMENT over gRPC', async () => {
    const twice = [{ name: 'OUTPUT0' }, { name: 'OUTPUT0' }];
    const rest = await server.post('/v2/models/simple/infer', simpleRequest(range16(), range16(), { outputs: twice }));
    assert.equal(rest.status, 400);
    assert.match(rest.body.error, /output 'OUTPUT0' is requested more than once/);
    const typed = (name: string) => ({ name, datatype: 'INT32', shape: [1, 16], contents: { int_contents: range16() } });
    await assert.rejects(client.call('ModelInfer', { model_name: 'simple', inputs: [typed('INPUT0'), typed('INPUT1')], outputs: twice }),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /requested more than once/.test(e.details));
  });

  it('an unknown model is NOT_FOUND even when its inputs are also wrong', async () => {
    const rest = await server.post('/v2/models/nope/infer', { inputs: [{ name: 'X', datatype: 'NOT_A_TYPE', shape: [-3], data: 'x' }] });
    assert.equal(rest.status, 404);
    assert.equal(rest.body.error, "Request for unknown model: 'nope' is not found");
    await assert.rejects(client.call('ModelInfer', { model_name: 'nope', inputs: [{ name: 'X', datatype: 'NOT_A_TYPE', shape: ['-3'] }] }),
      (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND && e.details === "Request for unknown model: 'nope' is not found");
  });

  it('compresses inference answers only: statistics and metadata stay plain whatever Accept-Encoding says', async () => {
    const values = Array.from({ length: 512 }, (_, i) => i / 8);
    const input = (await server.get('/v2/models/wide')).body.inputs[0].name;
    const infer = await rawRequest(server.url, 'POST', '/v2/models/wide/infer', JSON.stringify({ inputs: [{ name: input, datatype: 'FP32', shape: [512], data: values }] }), { 'accept-encoding': 'gzip' });
    assert.equal(infer.status, 200);
    assert.equal(infer.headers['content-encoding'], 'gzip');
    assert.deepEqual(JSON.parse(gunzipSync(infer.body).toString()).outputs[0].data, values);
    assert.equal((await server.post('/v2/models/simple/infer', simpleRequest(range16(), range16()))).status, 200);
    for (const path of ['/v2/models/stats', '/v2/models/wide/config', '/v2/models/wide']) {
      const plain = await rawRequest(server.url, 'GET', path, undefined, { 'accept-encoding': 'gzip, deflate' });
      assert.equal(plain.status, 200);
      if (path === '/v2/models/stats') assert.ok(plain.body.length >= 1024, `${path} (${plain.body.length} bytes) is big enough to be compressed if it were an inference answer`);
      assert.equal(plain.headers['content-encoding'], undefined, path);
      JSON.parse(plain.body.toString());
    }
  });

  it('GET /v2/ answers like GET /v2', async () => {
    const slash = await server.get('/v2/');
    assert.equal(slash.status, 200);
    assert.deepEqual(slash.body, (await server.get('/v2')).body);
  });
});
