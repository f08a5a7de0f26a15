/**
 * Triton's generate extension at its edges, on a real server:
 * - a decoupled model that sends no response: `/generate` has nothing to answer and says so with
 *   400 (Triton: "generate expects model to produce exactly 1 response"), not 500; `/generate_stream`
 *   answers 200 with no event, as Triton's does;
 * - the BYTES bounds (`--max-bytes-elements`, `--max-bytes-total`) hold for `/generate` and
 *   `/generate_stream` as for `/infer`, with the same 413 and message: the generate decoder checks
 *   each input's element count only, the request's totals are the facade's to check.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const examples = join(import.meta.dirname, '..', '..', 'examples', 'models');
const handlerApi = join(import.meta.dirname, '..', '..', 'src', 'backends', 'handler', 'handler-api.js');

/** Two BYTES inputs; answers how many elements and bytes it was given. */
const textPairSource = `
import type { HandlerRequest } from ${JSON.stringify(handlerApi)};
export async function execute(requests: HandlerRequest[]) {
  return requests.map((r) => {
    const all = [...(r.inputs.A!.data as Uint8Array[]), ...(r.inputs.B!.data as Uint8Array[])];
    return { outputs: { COUNT: { data: Int32Array.of(all.length, all.reduce((n, e) => n + e.byteLength, 0)) } } };
  });
}
`;

const MAX_ELEMENTS = 4;
const MAX_TOTAL_BYTES = 100;

describe('the generate extension at its edges', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      text_pair: {
        config: {
          backend: 'typescript', max_batch_size: 0,
          input: [{ name: 'A', data_type: 'TYPE_STRING', dims: [-1] }, { name: 'B', data_type: 'TYPE_STRING', dims: [-1] }],
          output: [{ name: 'COUNT', data_type: 'TYPE_INT32', dims: [2] }],
        },
        versions: { 1: textPairSource },
        filename: 'model.ts',
      },
    });
    cleanup = repo.cleanup;
    await mkdir(join(repo.root, 'repeat_int32', '1'), { recursive: true });
    await copyFile(join(examples, 'repeat_int32', 'config.yaml'), join(repo.root, 'repeat_int32', 'config.yaml'));
    const source = await readFile(join(examples, 'repeat_int32', '1', 'model.ts'), 'utf8');
    await writeFile(join(repo.root, 'repeat_int32', '1', 'model.ts'), source.replace("'../../../../src/backends/handler/handler-api.js'", JSON.stringify(handlerApi)));
    server = await startTestServer(repo.root, { grpcPort: -1, bytesLimits: { maxElements: MAX_ELEMENTS, maxTotalBytes: MAX_TOTAL_BYTES } });
  });

  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  const postRaw = (path: string, body: unknown) => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('/generate on a decoupled model that sends no response: 400 naming the cause, not 500', async () => {
    const none = { IN: [], DELAY: [], WAIT: 0 };
    const r = await server.post('/v2/models/repeat_int32/generate', none);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body), ['error']);
    assert.match(r.body.error, /"repeat_int32" ended its stream without a response.*\/generate_stream/);
    // The same request on /generate_stream: a stream with no event, status 200 (Triton's behaviour).
    const sse = await postRaw('/v2/models/repeat_int32/generate_stream', none);
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get('content-type')!, /^text\/event-stream/);
    assert.equal(await sse.text(), '');
    // One response still answers /generate.
    const one = await server.post('/v2/models/repeat_int32/generate', { IN: [3], DELAY: [0], WAIT: 0 });
    assert.deepEqual([one.status, one.body.OUT], [200, 3]);
  });

  /** The request over /infer (the reference) and over both generate endpoints: the same status and error. */
  async function assertRefusedAlike(a: string[], b: string[], option: RegExp): Promise<void> {
    const infer = await server.post('/v2/models/text_pair/infer', { inputs: [
      { name: 'A', datatype: 'BYTES', shape: [a.length], data: a },
      { name: 'B', datatype: 'BYTES', shape: [b.length], data: b },
    ] });
    assert.equal(infer.status, 413, JSON.stringify(infer.body));
    assert.match(infer.body.error, option);
    const generate = await server.post('/v2/models/text_pair/generate', { A: a, B: b });
    assert.deepEqual([generate.status, generate.body], [413, infer.body], '/generate');
    const stream = await postRaw('/v2/models/text_pair/generate_stream', { A: a, B: b });
    assert.deepEqual([stream.status, await stream.json()], [413, infer.body], '/generate_stream');
  }

  it('BYTES elements over all inputs beyond --max-bytes-elements: 413 as /infer answers it', async () => {
    // Each input is within the bound; together they are not.
    await assertRefusedAlike(['a', 'b', 'c'], ['d', 'e'], /5 BYTES elements exceed the limit of 4 per request \(--max-bytes-elements\)/);
  });

  it('BYTES bytes beyond --max-bytes-total: 413 as /infer answers it', async () => {
    await assertRefusedAlike(['x'.repeat(60)], ['y'.repeat(60)], /BYTES elements of 120 bytes exceed the limit of 100 per request \(--max-bytes-total\)/);
  });

  it('a request at both bounds is served by both endpoints', async () => {
    const body = { A: ['x'.repeat(50), ''], B: ['y'.repeat(25), 'z'.repeat(25)] };
    const generate = await server.post('/v2/models/text_pair/generate', body);
    assert.deepEqual([generate.status, generate.body.COUNT], [200, [4, 100]], JSON.stringify(generate.body));
    const stream = await postRaw('/v2/models/text_pair/generate_stream', body);
    assert.equal(stream.status, 200);
    assert.deepEqual(JSON.parse((await stream.text()).replace(/^data: /, '')).COUNT, [4, 100]);
  });
});
