/**
 * What the HTTP layer answers before any route runs (issue 13, defects 6, 10, 11): every refusal
 * is `{"error": "…"}` with a 4xx, client strings come back bounded, long model names route, and a
 * client that trickles its body is answered 408 and closed.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { range16, simpleRequest } from '../helpers/simple.js';
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.js';

/** Writes `chunks` on a raw socket (a function chunk is awaited: a pause) and collects the answer until close. */
function rawExchange(url: string, chunks: (string | (() => Promise<void>))[]): Promise<{ status: number; headers: string; body: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.setEncoding('utf8').on('data', (d) => { text += d; });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, headers: head, body: rest.join('\r\n\r\n'), closed: true });
    });
    socket.on('connect', async () => {
      try {
        for (const chunk of chunks) {
          if (socket.destroyed) break;
          if (typeof chunk === 'function') await chunk();
          else socket.write(chunk);
        }
        // Done writing: wait for the server to answer and close (keep-alive answers are closed by us after the first).
        setTimeout(() => socket.destroy(), 5000).unref();
      } catch (error) {
        reject(error);
      }
    });
  });
}

const pause = (ms: number) => () => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('HTTP edge refusals', () => {
  let server: TestServer;
  let repo: { root: string; cleanup: () => Promise<void> };
  const longName = `m${'x'.repeat(254)}`; // 255 characters, the longest model name

  before(async () => {
    repo = await makeRepository({ simple: { versions: { 1: simpleModel() } }, [longName]: { versions: { 1: simpleModel() } } });
    server = await startTestServer(repo.root, { grpcPort: -1, requestTimeoutMs: 400 });
  });
  after(async () => {
    await server.close();
    await repo.cleanup();
  });

  it('serves a model with a 255-character name on every REST route', async () => {
    assert.equal((await server.get(`/v2/models/${longName}/ready`)).status, 200);
    assert.equal((await server.get(`/v2/models/${longName}`)).body.name, longName);
    const res = await server.post(`/v2/models/${longName}/versions/1/infer`, simpleRequest(range16(), range16()));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.outputs.find((o: any) => o.name === 'OUTPUT0').data, range16().map((v) => v * 2));
  });

  it('answers a path parameter over the limit with 414 {"error"} that does not echo the URL', async () => {
    const res = await server.get(`/v2/models/${'y'.repeat(5000)}/ready`);
    assert.equal(res.status, 414);
    assert.deepEqual(Object.keys(res.body), ['error']);
    assert.ok(!res.body.error.includes('yyyy'), res.body.error);
  });

  it('answers unknown routes and unknown models with bounded {"error"} bodies', async () => {
    const route = await server.get(`/v2/nothing/${'z'.repeat(8000)}`);
    assert.equal(route.status, 404);
    assert.deepEqual(Object.keys(route.body), ['error']);
    assert.ok(route.body.error.length < 300, `${route.body.error.length} characters`);
    const name = 'n'.repeat(900);
    const model = await server.get(`/v2/models/${name}/ready`);
    assert.ok(model.status === 404 || model.status === 400, String(model.status));
    assert.ok(model.body.error.length < 500, `${model.body.error.length} characters`);
  });

  it('bounds an error that quotes a 1 MB input name', async () => {
    const request = simpleRequest(range16(), range16());
    request.inputs[0]!.name = 'I'.repeat(1024 * 1024);
    const res = await server.post('/v2/models/simple/infer', request);
    assert.equal(res.status, 400);
    assert.deepEqual(Object.keys(res.body), ['error']);
    assert.ok(JSON.stringify(res.body).length < 5000, `${JSON.stringify(res.body).length} bytes`);
    assert.match(res.body.error, /I{200}…/);
    // 9 million characters (in a datatype, the body under the 64 MiB limit): a regular expression
    // clipping it overflowed V8's backtracking stack, and the answer was a 500.
    const huge = simpleRequest(range16(), range16());
    huge.inputs[0]!.datatype = 'F'.repeat(9_000_000);
    const hugeRes = await server.post('/v2/models/simple/infer', huge);
    assert.equal(hugeRes.status, 400, JSON.stringify(hugeRes.body).slice(0, 300));
    assert.ok(JSON.stringify(hugeRes.body).length < 5000);
    assert.match(hugeRes.body.error, /F{200}…/);
  });

  it('answers malformed HTTP, oversized headers and bad URL encoding with {"error"} bodies', async () => {
    const garbage = await rawExchange(server.url, ['GARBAGE / NOT-HTTP\r\n\r\n']);
    assert.equal(garbage.status, 400);
    assert.deepEqual(Object.keys(JSON.parse(garbage.body)), ['error']);

    const big = await rawExchange(server.url, [`GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`]);
    assert.equal(big.status, 431);
    assert.match(JSON.parse(big.body).error, /larger than 16384 bytes/);

    const badUrl = await server.get('/v2/models/%E0%A4%A/ready');
    assert.equal(badUrl.status, 400);
    assert.deepEqual(Object.keys(badUrl.body), ['error']);
  });

  it('answers 408 and closes a connection that trickles its body past --request-timeout-ms', async () => {
    const chunks: (string | (() => Promise<void>))[] = ['POST /v2/models/simple/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n'];
    // At most 40 bytes over ~8 s: far past the 400 ms bound, and bounded should the server never close.
    for (let i = 0; i < 40; i++) chunks.push('{', pause(200));
    const answer = await rawExchange(server.url, chunks);
    assert.equal(answer.closed, true);
    assert.equal(answer.status, 408);
    assert.match(JSON.parse(answer.body).error, /--request-timeout-ms/);
    // The server still serves.
    assert.equal((await server.get('/v2/health/ready')).status, 200);
  });
});

describe('REST JSON limits', () => {
  let server: TestServer;
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await makeRepository({ simple: { versions: { 1: simpleModel() } } });
    server = await startTestServer(repo.root, { grpcPort: -1, httpMaxJsonElements: 1000 });
  });
  after(async () => {
    await server.close();
    await repo.cleanup();
  });

  const deep = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

  it('refuses JSON nested deeper than 100 levels with 413 naming the option, under every content type and in a binary header', async () => {
    const body = `{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":${deep(200)}}]}`;
    for (const type of ['application/json', 'text/plain', 'application/octet-stream']) {
      const res = await server.post('/v2/models/simple/infer', body, { 'content-type': type });
      assert.equal(res.status, 413, type);
      assert.match(res.body.error, /deeper than the limit of 100 levels \(--http-max-json-depth\)/);
    }
    const header = Buffer.from(body);
    const binary = await server.post('/v2/models/simple/infer', new Uint8Array(header), { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) });
    assert.equal(binary.status, 413);
    // Brackets inside strings are not nesting.
    const quoted = await server.post('/v2/models/simple/infer', { id: '['.repeat(500), ...simpleRequest(range16(), range16()) });
    assert.equal(quoted.status, 200);
  });

  it('refuses a body of more values than --http-max-json-elements before parsing it', async () => {
    const values = Array.from({ length: 1200 }, () => 1);
    const res = await server.post('/v2/models/simple/infer', { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1200], data: values }] });
    assert.equal(res.status, 413);
    assert.match(res.body.error, /more than the limit of 1000 values \(--http-max-json-elements\)/);
    assert.equal((await server.post('/v2/models/simple/infer', simpleRequest(range16(), range16()))).status, 200);
  });
});

describe('refused requests are counted', () => {
  it('vireo_rejected_requests_total counts parse errors, limits, auth and bad HTTP by reason', async () => {
    const repo = await makeRepository({ simple: { versions: { 1: simpleModel() } } });
    const server = await startTestServer(repo.root, { grpcPort: -1, metricsPort: 0, apiKeys: ['k'] });
    try {
      const key = { authorization: 'Bearer k' };
      await server.post('/v2/models/simple/infer', '{not json', key);
      await server.post('/v2/models/simple/infer', simpleRequest(range16(), range16()));
      await rawExchange(server.url, ['BAD REQUEST LINE\r\n\r\n']);
      assert.equal((await server.post('/v2/models/simple/infer', simpleRequest(range16(), range16()), key)).status, 200);
      const families = parsePrometheusText(await (await fetch(`${server.metricsUrl}/metrics`)).text());
      const count = (reason: string) => sampleValue(families, 'vireo_rejected_requests_total', { protocol: 'http', reason }) ?? 0;
      assert.equal(count('request_malformed') + count('malformed_body'), 1);
      assert.equal(count('unauthenticated'), 1);
      assert.equal(count('malformed_http'), 1);
    } finally {
      await server.close();
      await repo.cleanup();
    }
  });
});
