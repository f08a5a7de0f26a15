/**
 * The access guard over real sockets: cross-site and DNS-rebinding requests cannot drive control
 * routes (issue 13, defect 2), control tokens replace the loopback rule, and inference API keys
 * guard REST and gRPC alike while health probes stay open.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ADD_CONFIG, addModel, addRequest } from '../helpers/lifecycle.js';
import { assertStatus, grpc, healthClient, tritonClient } from '../helpers/grpc.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A request with exactly these headers (fetch forbids setting Host and Origin). */
function raw(base: string, method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const req = httpRequest({ hostname, port, path, method, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk) => { text += chunk; }).on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // the test sees the text
        }
        resolve({ status: res.statusCode!, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject).end(body);
  });
}

const x = [1, 2, 3, 4];

describe('control routes without a token (loopback-only mode)', () => {
  let server: TestServer;
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await makeRepository({ adder: { config: ADD_CONFIG, versions: { 1: addModel(1) } } });
    server = await startTestServer(repo.root, { modelControlMode: 'explicit', loadModels: ['adder'], grpcPort: -1 });
  });
  after(async () => {
    await server.close();
    await repo.cleanup();
  });
  const ready = async () => (await server.get('/v2/models/adder/ready')).status;
  const host = () => new URL(server.url).host;

  it('refuses the issue\'s cross-site unload (text/plain, foreign Origin) and the model keeps serving', async () => {
    const res = await raw(server.url, 'POST', '/v2/repository/models/adder/unload', { 'content-type': 'text/plain', origin: 'http://evil.example' });
    assert.equal(res.status, 403);
    assert.match(res.body.error, /cross-site/);
    assert.equal(await ready(), 200);
  });

  it('answers 415 to control bodies that are not application/json, whatever the route', async () => {
    for (const [path, body] of [['/v2/repository/models/adder/unload', '{}'], ['/v2/logging', '{"log_verbose_level":1}'], ['/v2/trace/setting', '{"trace_rate":"5"}']] as const) {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        const res = await raw(server.url, 'POST', path, { 'content-type': type }, body);
        assert.equal(res.status, 415, `${path} ${type}`);
        assert.deepEqual(Object.keys(res.body), ['error']);
        assert.match(res.body.error, /application\/json/);
      }
      // A browser's body without any Content-Type (fetch with a Blob) is refused too; JSON with a charset is fine.
      assert.equal((await raw(server.url, 'POST', path, { origin: `http://${host()}` }, body)).status, 415);
    }
    assert.equal(await ready(), 200);
    assert.equal((await server.get('/v2/logging')).body.log_verbose_level, 0, 'nothing changed');
    assert.equal((await raw(server.url, 'POST', '/v2/logging', { 'content-type': 'application/json; charset=utf-8' }, '{"log_verbose_level":0}')).status, 200);
  });

  // tritonclient.http (geventhttpclient) posts its JSON bodies with no Content-Type at all; a browser
  // always sends Origin with a POST, so a body with neither header does not come from a web page.
  it('accepts a JSON body without Content-Type from a non-browser client (no Origin), as tritonclient.http sends it', async () => {
    const level = await raw(server.url, 'POST', '/v2/logging', {}, '{"log_verbose_level":1}');
    assert.equal(level.status, 200, JSON.stringify(level.body));
    assert.equal((await server.get('/v2/logging')).body.log_verbose_level, 1);
    assert.equal((await raw(server.url, 'POST', '/v2/logging', {}, '{"log_verbose_level":0}')).status, 200);
    assert.equal((await server.get('/v2/logging')).body.log_verbose_level, 0);
    const load = await raw(server.url, 'POST', '/v2/repository/models/adder/load', {}, '{"parameters":{"config":"{\\"max_batch_size\\":\\"2\\"}"}}');
    assert.equal(load.status, 200, JSON.stringify(load.body));
    assert.equal((await server.get('/v2/models/adder/config')).body.max_batch_size, 2);
    assert.equal(await ready(), 200);
  });

  it('refuses a foreign Host (DNS rebinding) and accepts loopback names', async () => {
    const port = new URL(server.url).port;
    const rebound = await raw(server.url, 'POST', '/v2/repository/index', { host: `attacker.example:${port}`, 'content-type': 'application/json' }, '{}');
    assert.equal(rebound.status, 403);
    assert.match(rebound.body.error, /loopback Host.*attacker\.example/);
    for (const name of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost']) {
      assert.equal((await raw(server.url, 'POST', '/v2/repository/index', { host: name, 'content-type': 'application/json' }, '{}')).status, 200, name);
    }
    // Inference is not a control route: a rebound Host changes nothing there.
    assert.equal((await raw(server.url, 'POST', '/v2/models/adder/infer', { host: 'attacker.example', 'content-type': 'application/json' }, JSON.stringify(addRequest(x)))).status, 200);
  });

  it('accepts a same-origin Origin and refuses every other one', async () => {
    const same = await raw(server.url, 'POST', '/v2/repository/index', { origin: `http://${host()}`, 'content-type': 'application/json' }, '{}');
    assert.equal(same.status, 200);
    for (const origin of ['http://evil.example', 'null', `http://${host()}.evil.example`, 'https://localhost']) {
      const res = await raw(server.url, 'POST', '/v2/repository/index', { origin, 'content-type': 'application/json' }, '{}');
      assert.equal(res.status, 403, origin);
    }
  });
});

describe('control token and inference API keys', () => {
  let server: TestServer;
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await makeRepository({ adder: { config: ADD_CONFIG, versions: { 1: addModel(1) } } });
    server = await startTestServer(repo.root, { modelControlMode: 'explicit', loadModels: ['adder'], controlToken: 'ctl-token', apiKeys: ['key-one', 'key-two'], metricsPort: 0 });
  });
  after(async () => {
    await server.close();
    await repo.cleanup();
  });

  it('REST: inference and metadata need a key (or the control token); health probes do not', async () => {
    const infer = (headers: Record<string, string>) => server.post('/v2/models/adder/infer', addRequest(x), headers);
    const none = await infer({});
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.deepEqual(Object.keys(none.body), ['error']);
    assert.equal((await infer({ authorization: 'Bearer key-three' })).status, 401);
    assert.equal((await infer({ authorization: 'key-one' })).status, 401, 'the Bearer scheme is required');
    for (const key of ['key-one', 'key-two', 'ctl-token']) {
      const res = await infer({ authorization: `Bearer ${key}` });
      assert.equal(res.status, 200, key);
      assert.deepEqual(res.body.outputs[0].data, x.map((v) => v + 1));
    }
    assert.equal((await server.get('/v2/models/adder')).status, 401);
    assert.equal((await server.get('/v2/health/ready')).status, 200);
    assert.equal((await server.get('/v2/health/live')).status, 200);
  });

  it('REST: an API key is not a control token', async () => {
    const res = await server.post('/v2/repository/models/adder/unload', {}, { authorization: 'Bearer key-one' });
    assert.equal(res.status, 401);
    assert.equal((await server.get('/v2/health/ready')).status, 200);
    assert.equal((await server.post('/v2/logging', { log_verbose_level: 0 }, { authorization: 'Bearer ctl-token' })).status, 200);
  });

  it('gRPC: ModelInfer needs the authorization metadata; ServerLive and the health service do not', async () => {
    const client = tritonClient(server.grpcTarget);
    const health = healthClient(server.grpcTarget);
    const request = { model_name: 'adder', inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: x } }] };
    const withKey = (key: string) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${key}`);
      return metadata;
    };
    try {
      await assertStatus(client.call('ModelInfer', request), grpc.status.UNAUTHENTICATED, /needs an API key/);
      const scrape = await (await fetch(`${server.metricsUrl}/metrics`)).text();
      assert.match(scrape, /vireo_rejected_requests_total\{protocol="grpc",reason="unauthenticated"\} 1/);
      await assertStatus(client.call('ModelMetadata', { name: 'adder' }), grpc.status.UNAUTHENTICATED);
      const response = await new Promise<any>((resolve, reject) => client.raw.ModelInfer(request, withKey('key-two'), (e: unknown, r: unknown) => (e ? reject(e) : resolve(r))));
      // Triton answers ModelInfer in raw_output_contents (little-endian FP32 here).
      const raw = response.raw_output_contents[0] as Buffer;
      const values = Array.from({ length: raw.length / 4 }, (_, i) => raw.readFloatLE(i * 4));
      assert.deepEqual(values, x.map((v) => v + 1));
      assert.deepEqual(await client.call('ServerLive', {}), { live: true });
      assert.equal((await health.call('Check', { service: '' })).status, 'SERVING');
      // The stream is refused as a whole without a key.
      const stream = client.raw.ModelStreamInfer();
      const refused = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
      stream.write(request);
      assert.equal((await refused).code, grpc.status.UNAUTHENTICATED);
    } finally {
      client.close();
      health.close();
    }
  });
});

describe('CORS', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await makeRepository({ adder: { config: ADD_CONFIG, versions: { 1: addModel(1) } } });
  });
  after(async () => {
    await repo.cleanup();
  });

  it('is off by default: no CORS header, no preflight answer', async () => {
    const server = await startTestServer(repo.root, { grpcPort: -1 });
    try {
      const res = await raw(server.url, 'GET', '/v2/models/adder', { origin: 'http://app.example' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      const preflight = await raw(server.url, 'OPTIONS', '/v2/models/adder/infer', { origin: 'http://app.example', 'access-control-request-method': 'POST' });
      assert.equal(preflight.headers['access-control-allow-origin'], undefined);
      assert.ok(preflight.status >= 400, String(preflight.status));
    } finally {
      await server.close();
    }
  });

  it('answers only the configured origins, and lets them use control routes', async () => {
    const server = await startTestServer(repo.root, { grpcPort: -1, modelControlMode: 'explicit', loadModels: ['adder'], corsOrigins: ['http://app.example'], apiKeys: ['k'] });
    try {
      const preflight = await raw(server.url, 'OPTIONS', '/v2/models/adder/infer', { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers['access-control-allow-origin'], 'http://app.example');
      assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
      const foreign = await raw(server.url, 'OPTIONS', '/v2/models/adder/infer', { origin: 'http://evil.example', 'access-control-request-method': 'POST' });
      assert.equal(foreign.headers['access-control-allow-origin'], undefined);
      const infer = await raw(server.url, 'POST', '/v2/models/adder/infer', { origin: 'http://app.example', authorization: 'Bearer k', 'content-type': 'application/json' }, JSON.stringify(addRequest(x)));
      assert.equal(infer.status, 200);
      assert.equal(infer.headers['access-control-allow-origin'], 'http://app.example');
      const control = await raw(server.url, 'POST', '/v2/repository/index', { origin: 'http://app.example', 'content-type': 'application/json' }, '{}');
      assert.equal(control.status, 200, JSON.stringify(control.body));
      const evil = await raw(server.url, 'POST', '/v2/repository/index', { origin: 'http://evil.example', 'content-type': 'application/json' }, '{}');
      assert.equal(evil.status, 403);
    } finally {
      await server.close();
    }
  });
});
