/**
 * A request body in a Content-Encoding the server does not inflate, answered as Triton answers it.
 * Expected values from Triton's server (src/http_server.cc): on /infer, HTTPAPIServer::DecompressBuffer
 * refuses an unknown coding with its UNSUPPORTED error class, which HttpCodeFromError maps to 501, the
 * body `{"error":"Unsupported compression type"}` and an `Accept-Encoding: gzip, deflate` header naming
 * what it takes; /generate refuses any coding but identity with 400 (INVALID_ARG).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const simpleRequest = JSON.stringify({
  inputs: [
    { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: Array.from({ length: 16 }, (_, i) => i) },
    { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: Array.from({ length: 16 }, () => 1) },
  ],
});

describe('an unsupported request Content-Encoding, as Triton answers it', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({ simple: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } } });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { grpcPort: -1 });
  });
  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  const post = (path: string, body: string | Buffer, headers: Record<string, string>) =>
    fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('/infer: 501 "Unsupported compression type" with Accept-Encoding: gzip, deflate; /generate and other routes: 400', async () => {
    const header = Buffer.from(simpleRequest);
    const cases: { path: string; body: string | Buffer; headers: Record<string, string> }[] = [
      { path: '/v2/models/simple/infer', body: simpleRequest, headers: { 'content-encoding': 'br' } },
      { path: '/v2/models/simple/versions/1/infer', body: simpleRequest, headers: { 'content-encoding': 'compress' } },
      // The binary tensor data extension's framing (here a JSON-only body with its header length).
      { path: '/v2/models/simple/infer', body: header, headers: { 'content-encoding': 'zstd', 'inference-header-content-length': String(header.length) } },
    ];
    for (const c of cases) {
      const response = await post(c.path, c.body, c.headers);
      const text = await response.text();
      assert.equal(response.status, 501, `${c.headers['content-encoding']}: ${text}`);
      assert.match(JSON.parse(text).error, /^Unsupported compression type/);
      assert.equal(response.headers.get('accept-encoding'), 'gzip, deflate');
    }
    // The codings Triton takes still work, and the server goes on serving.
    const plain = await post('/v2/models/simple/infer', simpleRequest, { 'content-encoding': 'identity' });
    assert.equal(plain.status, 200);

    // /generate refuses it with 400, as Triton does; routes whose bodies Triton does not decode keep 400.
    const generate = await post('/v2/models/simple/generate', '{}', { 'content-encoding': 'br' });
    assert.equal(generate.status, 400);
    assert.deepEqual(Object.keys(await generate.json() as object), ['error']);
    const index = await post('/v2/repository/index', '{}', { 'content-encoding': 'br' });
    assert.equal(index.status, 400);
    // Only /infer names the codings it takes.
    assert.equal(index.headers.get('accept-encoding'), null);
  });
});
