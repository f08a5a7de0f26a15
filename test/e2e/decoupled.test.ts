/**
 * Decoupled models end to end: the repeat_int32 example over gRPC ModelStreamInfer (Triton's
 * simple_grpc_custom_repeat.py flow: one response per value, triton_final_response, the empty
 * final response) and over REST generate / generate_stream (SSE); a mid-stream error ends only
 * its own stream; a client that disconnects cancels the handler, which stops producing.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { rawOutputValues, streamInfer, tritonClient, type RpcClient } from '../helpers/grpc.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const examples = join(import.meta.dirname, '..', '..', 'examples', 'models');
const handlerApi = join(import.meta.dirname, '..', '..', 'src', 'backends', 'handler', 'handler-api.js');

/** Counts up forever, one response per 20 ms; fails at `fail_at`; records its end in a file. */
const counterSource = `
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HandlerRequest, StreamContext } from ${JSON.stringify(handlerApi)};
export async function* stream(request: HandlerRequest, { signal }: StreamContext) {
  const tag = String(request.parameters.tag ?? 'untagged');
  const failAt = Number(request.parameters.fail_at ?? -1);
  const limit = Number((request.inputs.LIMIT!.data as Int32Array)[0]);
  let produced = 0;
  try {
    for (let i = 0; i < limit; i++) {
      if (i === failAt) throw new Error('counter failed on purpose at ' + i);
      await sleep(20, undefined, { signal });
      produced++;
      yield { outputs: { COUNT: { data: Int32Array.of(i) } } };
    }
  } finally {
    await writeFile(new URL('./end-' + tag + '.json', import.meta.url), JSON.stringify({ produced, aborted: signal.aborted }));
  }
}
`;

describe('decoupled models', () => {
  let server: TestServer;
  let client: RpcClient;
  let cleanup: () => Promise<void>;
  let counterDir: string;

  before(async () => {
    const repo = await makeRepository({
      counter: {
        config: {
          backend: 'typescript', max_batch_size: 0, model_transaction_policy: { decoupled: true },
          input: [{ name: 'LIMIT', data_type: 'TYPE_INT32', dims: [1] }],
          output: [{ name: 'COUNT', data_type: 'TYPE_INT32', dims: [1] }],
        },
        versions: { 1: counterSource },
        filename: 'model.ts',
      },
    });
    cleanup = repo.cleanup;
    counterDir = join(repo.root, 'counter', '1');
    await mkdir(join(repo.root, 'repeat_int32', '1'), { recursive: true });
    await copyFile(join(examples, 'repeat_int32', 'config.yaml'), join(repo.root, 'repeat_int32', 'config.yaml'));
    const source = await readFile(join(examples, 'repeat_int32', '1', 'model.ts'), 'utf8');
    await writeFile(join(repo.root, 'repeat_int32', '1', 'model.ts'), source.replace("'../../../../src/backends/handler/handler-api.js'", JSON.stringify(handlerApi)));
    server = await startTestServer(repo.root);
    client = tritonClient(server.grpcTarget);
  });

  after(async () => {
    client.close();
    await server.close();
    await cleanup();
  });

  const repeatRequest = (values: number[], delays: number[], wait: number, parameters: Record<string, unknown> = {}) => ({
    model_name: 'repeat_int32',
    id: 'r1',
    inputs: [
      { name: 'IN', datatype: 'INT32', shape: [values.length], contents: { int_contents: values } },
      { name: 'DELAY', datatype: 'UINT32', shape: [delays.length], contents: { uint_contents: delays } },
      { name: 'WAIT', datatype: 'UINT32', shape: [1], contents: { uint_contents: [wait] } },
    ],
    parameters,
  });

  it('streams one gRPC response per value, with triton_final_response and the empty final response', async () => {
    const values = [4, 2, 0, 1];
    const responses = await streamInfer(client, [repeatRequest(values, [1, 2, 3, 4], 5, { triton_enable_empty_final_response: { bool_param: true } })]);
    assert.equal(responses.length, values.length + 1);
    const data = responses.slice(0, -1);
    assert.deepEqual(data.map((r) => rawOutputValues(r.infer_response, 'OUT')[0]), values);
    assert.deepEqual(data.map((r) => rawOutputValues(r.infer_response, 'IDX')[0]), [0, 1, 2, 3]);
    assert.ok(data.every((r) => r.error_message === '' && r.infer_response.id === 'r1' && r.infer_response.parameters.triton_final_response.bool_param === false));
    const final = responses.at(-1);
    assert.equal(final.infer_response.parameters.triton_final_response.bool_param, true);
    assert.equal(final.infer_response.outputs.length, 0);
    // Without the request parameter no empty final response is sent.
    assert.equal((await streamInfer(client, [repeatRequest([7], [0], 0)])).length, 1);
  });

  it('refuses single-response calls to a decoupled model with a clear error', async () => {
    const r = await server.post('/v2/models/repeat_int32/infer', { inputs: [{ name: 'IN', datatype: 'INT32', shape: [1], data: [1] }, { name: 'DELAY', datatype: 'UINT32', shape: [1], data: [0] }, { name: 'WAIT', datatype: 'UINT32', shape: [1], data: [0] }] });
    assert.equal(r.status, 400);
    assert.match(r.body.error, /decoupled.*generate_stream/);
  });

  it('answers REST generate when the model sends one response (as Triton, more is an error) and generate_stream with one SSE event per response', async () => {
    const body = { id: 'g1', IN: [5, 6, 7], DELAY: [0, 0, 0], WAIT: 0 };
    const one = await server.post('/v2/models/repeat_int32/generate', { ...body, IN: [5], DELAY: [0] });
    assert.equal(one.status, 200);
    assert.deepEqual(one.body, { id: 'g1', model_name: 'repeat_int32', model_version: '1', OUT: 5, IDX: 0 });
    const three = await server.post('/v2/models/repeat_int32/generate', body);
    assert.equal(three.status, 400);
    assert.match(three.body.error, /^generate expects model to produce exactly 1 response/);
    const response = await fetch(`${server.url}/v2/models/repeat_int32/generate_stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type')!, /^text\/event-stream/);
    const events = (await response.text()).split('\n\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')));
    assert.deepEqual(events.map((e) => [e.OUT, e.IDX, e.id]), [[5, 0, 'g1'], [6, 1, 'g1'], [7, 2, 'g1']]);
    // An error before the first response is an ordinary JSON error with its status.
    const bad = await fetch(`${server.url}/v2/models/repeat_int32/generate_stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ IN: [1, 2], DELAY: [0], WAIT: 0 }) });
    assert.equal(bad.status, 400);
    assert.match((await bad.json() as { error: string }).error, /one delay per value/);
  });

  it('ends only the failing stream when a handler throws mid-stream', async () => {
    const limit = (n: number) => ({ name: 'LIMIT', datatype: 'INT32', shape: [1], contents: { int_contents: [n] } });
    const responses = await streamInfer(client, [
      { model_name: 'counter', id: 'bad', inputs: [limit(10)], parameters: { tag: { string_param: 'bad' }, fail_at: { int64_param: '3' } } },
      { model_name: 'counter', id: 'good', inputs: [limit(5)], parameters: { tag: { string_param: 'good' } } },
    ]);
    const bad = responses.filter((r) => r.infer_response.id === 'bad');
    const good = responses.filter((r) => r.infer_response.id === 'good');
    assert.equal(bad.filter((r) => r.error_message === '').length, 3);
    assert.match(bad.at(-1).error_message, /counter failed on purpose at 3/);
    assert.deepEqual(good.map((r) => rawOutputValues(r.infer_response, r.infer_response.outputs[0].name)[0]), [0, 1, 2, 3, 4]);
    assert.ok(good.every((r) => r.error_message === ''));
    // The SSE form: the error is the last event, after the responses already sent.
    const sse = await fetch(`${server.url}/v2/models/counter/generate_stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ LIMIT: 10, tag: 'bad-sse', fail_at: 2 }) });
    const events = (await sse.text()).split('\n\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')));
    assert.deepEqual(events.slice(0, 2).map((e) => e.COUNT), [0, 1]);
    assert.match(events[2].error, /failed on purpose/);
  });

  it('cancels the handler when the SSE client disconnects, and when the gRPC stream is cancelled', async () => {
    // SSE: read three events, then drop the connection.
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${server.url}/v2/models/counter/generate_stream`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let events = 0;
        res.on('data', (chunk: Buffer) => {
          events += chunk.toString().split('\n\n').filter(Boolean).length;
          if (events >= 3) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', () => undefined);
      req.end(JSON.stringify({ LIMIT: 100000, tag: 'sse' }));
      setTimeout(() => reject(new Error('no events')), 10_000).unref();
    });
    // gRPC: cancel the call after two responses.
    await new Promise<void>((resolve) => {
      const call = client.raw.ModelStreamInfer();
      let seen = 0;
      call.on('data', () => {
        if (++seen === 2) {
          call.cancel();
          resolve();
        }
      });
      call.on('error', () => undefined);
      call.write({ model_name: 'counter', inputs: [{ name: 'LIMIT', datatype: 'INT32', shape: [1], contents: { int_contents: [100000] } }], parameters: { tag: { string_param: 'grpc' } } });
    });
    for (const tag of ['sse', 'grpc']) {
      let end: { produced: number; aborted: boolean } | undefined;
      for (let i = 0; i < 200 && !end; i++) {
        // Read while the handler may still be writing it: a partial file is "not yet", like a missing one.
        end = await readFile(join(counterDir, `end-${tag}.json`), 'utf8').then((text) => {
          try {
            return JSON.parse(text) as { produced: number; aborted: boolean };
          } catch {
            return undefined;
          }
        }, () => undefined);
        if (!end) await sleep(25);
      }
      assert.ok(end, `${tag}: the handler never ended`);
      assert.equal(end.aborted, true, `${tag}: the handler was not told of the cancellation`);
      assert.ok(end.produced < 1000, `${tag}: produced ${end.produced} responses for nobody`);
    }
    const stats = await server.get('/v2/models/counter/stats');
    assert.equal(stats.status, 200);
  });
});
