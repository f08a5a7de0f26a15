/**
 * `POST /v2/models/{m}/generate` on a decoupled model that sends more than one response. Expected
 * from Triton's server (src/http_server.cc, HTTPAPIServer::GenerateRequestClass::SendChunkResponse):
 * not a response but the error "generate expects model to produce exactly 1 response, use generate
 * stream for model that generates various number of responses" (which Triton's
 * qa/L0_http/generate_endpoint_test.py test_many_response looks for in `error`). Vireo answers it with
 * 400, as it answers no response at all; it also stops the model at the second response.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const examples = join(import.meta.dirname, '..', '..', 'examples', 'models');
const handlerApi = join(import.meta.dirname, '..', '..', 'src', 'backends', 'handler', 'handler-api.js');
const TRITON_MESSAGE = 'generate expects model to produce exactly 1 response, use generate stream for model that generates various number of responses';

describe('/generate on a decoupled model that sends several responses', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({});
    cleanup = repo.cleanup;
    await mkdir(join(repo.root, 'repeat_int32', '1'), { recursive: true });
    await copyFile(join(examples, 'repeat_int32', 'config.yaml'), join(repo.root, 'repeat_int32', 'config.yaml'));
    const source = await readFile(join(examples, 'repeat_int32', '1', 'model.ts'), 'utf8');
    await writeFile(join(repo.root, 'repeat_int32', '1', 'model.ts'), source.replace("'../../../../src/backends/handler/handler-api.js'", JSON.stringify(handlerApi)));
    server = await startTestServer(repo.root, { grpcPort: -1 });
  });
  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  it("answers Triton's exactly-one-response error, not the last response, and stops the model at the second", async () => {
    const three = await server.post('/v2/models/repeat_int32/generate', { IN: [4, 5, 6], DELAY: [0, 0, 0], WAIT: 0 });
    assert.equal(three.status, 400, JSON.stringify(three.body));
    assert.deepEqual(Object.keys(three.body), ['error']);
    assert.ok(three.body.error.startsWith(TRITON_MESSAGE), three.body.error);

    // The third response would come after 30 s: the answer does not wait for it.
    const started = performance.now();
    const slow = await server.post('/v2/models/repeat_int32/generate', { IN: [1, 2, 3], DELAY: [0, 0, 30_000], WAIT: 0 });
    assert.equal(slow.status, 400);
    assert.ok(slow.body.error.startsWith(TRITON_MESSAGE));
    assert.ok(performance.now() - started < 10_000, `answered after ${Math.round(performance.now() - started)} ms`);

    // No response at all gets the same message; one response is answered; /generate_stream sends every one.
    const none = await server.post('/v2/models/repeat_int32/generate', { IN: [], DELAY: [], WAIT: 0 });
    assert.equal(none.status, 400);
    assert.ok(none.body.error.startsWith(TRITON_MESSAGE));
    const one = await server.post('/v2/models/repeat_int32/generate', { IN: [7], DELAY: [0], WAIT: 0 });
    assert.deepEqual([one.status, one.body.OUT], [200, 7]);
    const stream = await fetch(`${server.url}/v2/models/repeat_int32/generate_stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ IN: [4, 5, 6], DELAY: [0, 0, 0], WAIT: 0 }) });
    const events = (await stream.text()).split('\n\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')).OUT);
    assert.deepEqual(events, [4, 5, 6]);
  });
});
