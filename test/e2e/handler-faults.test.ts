/**
 * Handler code that allocates without bound ends only its own worker: the bounded worker heap
 * (the default of --handler-heap-limit-mb, or parameters.max_heap_mb) runs out, the batch fails
 * with VIREO_ERR_WORKER_DIED, the worker is replaced and the model, the other models and the
 * process go on serving. (Throwing, hanging and process.exit are in handler-models.test.ts,
 * reload under load in hot-reload.test.ts, a corrupt model at start in repository-loading.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { add, range16, simpleRequest } from '../helpers/simple.js';

/** Keeps everything it allocates for a negative input; echoes otherwise. */
const hog = `
export function execute(requests) {
  if (requests[0].inputs.IN.data[0] < 0) {
    const kept = [];
    for (;;) kept.push(Array.from({ length: 100000 }, (_, i) => ({ i })));
  }
  return requests.map((r) => ({ outputs: { OUT: { data: r.inputs.IN.data } } }));
}
`;
const io = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [2] });
const request = (a: number, b: number) => ({ inputs: [{ name: 'IN', shape: [2], datatype: 'INT32', data: [a, b] }] });

describe('a handler that allocates without bound', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      simple: { versions: { 1: simpleModel() } },
      hog: { config: { backend: 'typescript', max_batch_size: 0, input: [io('IN')], output: [io('OUT')] }, versions: { 1: hog }, filename: 'model.js' },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { modelDefaults: { handlerHeapLimitMb: 128 } });
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  it('fails its own request, its worker is replaced, and everything keeps serving', async () => {
    const rssBefore = process.memoryUsage.rss();
    const concurrent = server.post('/v2/models/simple/infer', simpleRequest(range16(), range16(2)));
    const hogged = await server.post('/v2/models/hog/infer', request(-1, 0));
    assert.equal(hogged.status, 500, JSON.stringify(hogged.body));
    assert.match(hogged.body.error, /instance worker (crashed|exited)/);
    assert.deepEqual((await concurrent).body.outputs[0].data, add(range16(), range16(2)));
    const again = await server.post('/v2/models/hog/infer', request(4, 5));
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(again.body.outputs[0].data, [4, 5]);
    const other = await server.post('/v2/models/simple/infer', simpleRequest(range16(3), range16()));
    assert.deepEqual(other.body.outputs[0].data, add(range16(3), range16()));
    // The worker's heap was bounded: the process did not grow by gigabytes.
    assert.ok(process.memoryUsage.rss() - rssBefore < 1024 * 1024 * 1024, `RSS grew by ${Math.round((process.memoryUsage.rss() - rssBefore) / 2 ** 20)} MB`);
  });
});
