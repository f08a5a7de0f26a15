/**
 * The response cache end to end: a repeated request is answered from the cache (statistics:
 * cache_hit, no new execution), a different input or output selection misses, errors are not
 * cached, the LRU stays within its byte budget, a reload drops the version's entries, and a model
 * without response_cache never uses it. Expected outputs are computed here (simple: a + b, a − b).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { identityModel, simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ResponseCache, parseCacheConfig } from '../../src/scheduler/response-cache.js';

const simpleConfig = (cache: boolean) => ({
  backend: 'onnx',
  max_batch_size: 8,
  input: [{ name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] }, { name: 'INPUT1', data_type: 'TYPE_INT32', dims: [16] }],
  output: [{ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] }, { name: 'OUTPUT1', data_type: 'TYPE_INT32', dims: [16] }],
  ...(cache ? { response_cache: { enable: true } } : {}),
});

const body = (a: number[], b: number[], outputs?: string[]) => ({
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
  ],
  ...(outputs ? { outputs: outputs.map((name) => ({ name })) } : {}),
});

const range = (start: number) => Array.from({ length: 16 }, (_, i) => start + i);

const handlerApi = join(import.meta.dirname, '..', '..', 'src', 'backends', 'handler', 'handler-api.js');
/** Answers the request's parameters as JSON: what a cached answer must never mix up. */
const echoSource = `
import type { HandlerRequest } from ${JSON.stringify(handlerApi)};
export function execute(requests: HandlerRequest[]) {
  return requests.map((r) => ({ outputs: { P: { data: [JSON.stringify(r.parameters)] } } }));
}
`;

const vector = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [-1] });
const identityConfig = (extra: Record<string, unknown>) => ({ backend: 'onnx', max_batch_size: 8, input: [vector('INPUT')], output: [vector('OUTPUT')], ...extra });

describe('response cache', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let metricsUrl: string;

  before(async () => {
    const repo = await makeRepository({
      cached: { config: simpleConfig(true), versions: { 1: simpleModel() } },
      uncached: { config: simpleConfig(false), versions: { 1: simpleModel() } },
      echo: {
        config: {
          backend: 'typescript', max_batch_size: 0, response_cache: { enable: true },
          input: [{ name: 'X', data_type: 'TYPE_INT32', dims: [1] }], output: [{ name: 'P', data_type: 'TYPE_STRING', dims: [1] }],
        },
        versions: { 1: echoSource },
        filename: 'model.ts',
      },
      // A cached step whose outputs the next step's thread of its own receives as moved buffers.
      ident_cached: { config: identityConfig({ response_cache: { enable: true } }), versions: { 1: identityModel('INT32') } },
      ident_dedicated: { config: identityConfig({ parameters: { execution_worker: { string_value: 'dedicated' } } }), versions: { 1: identityModel('INT32') } },
      pipe: {
        config: {
          platform: 'ensemble', max_batch_size: 8, input: [vector('A')], output: [vector('R')],
          ensemble_scheduling: { step: [
            { model_name: 'ident_cached', input_map: { INPUT: 'A' }, output_map: { OUTPUT: 'X' } },
            { model_name: 'ident_dedicated', input_map: { INPUT: 'X' }, output_map: { OUTPUT: 'R' } },
          ] },
        },
        versions: { 1: '' },
        filename: '.keep',
      },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { cacheConfig: 'local,size=8388608', metricsPort: 0, modelControlMode: 'explicit', loadModels: ['*'] });
    metricsUrl = server.metricsUrl!;
  });

  after(async () => {
    await server.close();
    await cleanup();
  });

  const stats = async (model: string) => (await server.get(`/v2/models/${model}/stats`)).body.model_stats[0];
  const infer = async (model: string, payload: unknown) => {
    const r = await server.post(`/v2/models/${model}/infer`, payload);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.outputs as { name: string; data: number[] }[];
  };

  it('answers a repeated request from the cache without executing the model', async () => {
    const a = range(1);
    const b = range(100);
    const first = await infer('cached', body(a, b));
    const second = await infer('cached', body(a, b));
    for (const outputs of [first, second]) {
      assert.deepEqual(outputs.find((o) => o.name === 'OUTPUT0')!.data, a.map((x, i) => x + b[i]!));
      assert.deepEqual(outputs.find((o) => o.name === 'OUTPUT1')!.data, a.map((x, i) => x - b[i]!));
    }
    let s = await stats('cached');
    assert.equal(s.inference_stats.cache_miss.count, 1);
    assert.equal(s.inference_stats.cache_hit.count, 1);
    assert.ok(s.inference_stats.cache_hit.ns > 0);
    assert.equal(s.execution_count, 1);
    assert.equal(s.inference_stats.success.count, 2);
    assert.equal(s.inference_count, 1, 'inference_count does not include cache hits (extension_statistics.md)');
    // Another input, or another selection of outputs, is another entry.
    await infer('cached', body(a, range(200)));
    const only = await infer('cached', body(a, b, ['OUTPUT1']));
    assert.deepEqual(only.map((o) => o.name), ['OUTPUT1']);
    s = await stats('cached');
    assert.equal(s.inference_stats.cache_miss.count, 3);
    assert.equal(s.execution_count, 3);
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    assert.match(metrics, /vireo_cache_hits_total\{model="cached",version="1"\} 1\n/);
    assert.match(metrics, /vireo_cache_misses_total\{model="cached",version="1"\} 3\n/);
  });

  it('never caches an error, and leaves models without response_cache alone', async () => {
    const bad = { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: range(0) }] };
    assert.equal((await server.post('/v2/models/cached/infer', bad)).status, 400);
    assert.equal((await server.post('/v2/models/cached/infer', bad)).status, 400);
    await infer('uncached', body(range(1), range(100)));
    await infer('uncached', body(range(1), range(100)));
    const s = await stats('uncached');
    assert.equal(s.inference_stats.cache_hit.count, 0);
    assert.equal(s.inference_stats.cache_miss.count, 0);
    assert.equal(s.execution_count, 2);
  });

  it('drops a version\'s entries when it reloads', async () => {
    await infer('cached', body(range(5), range(6)));
    const before = await stats('cached');
    await infer('cached', body(range(5), range(6)));
    assert.equal((await stats('cached')).execution_count, before.execution_count, 'second call is a hit');
    // A changed configuration reloads version 1.
    const config = JSON.stringify({ ...simpleConfig(true), parameters: { reloaded: '1' } });
    const reload = await server.post('/v2/repository/models/cached/load', { parameters: { config } });
    assert.equal(reload.status, 200, JSON.stringify(reload.body));
    const reloaded = await stats('cached');
    await infer('cached', body(range(5), range(6)));
    const s = await stats('cached');
    assert.equal(s.inference_stats.cache_hit.count, reloaded.inference_stats.cache_hit.count, 'the reloaded version never sees the old entries');
    assert.equal(s.execution_count, reloaded.execution_count + 1);
  });

  it('never answers a request with the cached result of one whose parameters only join to the same text', async () => {
    const echo = async (parameters: Record<string, unknown>) => {
      const r = await server.post('/v2/models/echo/infer', { inputs: [{ name: 'X', datatype: 'INT32', shape: [1], data: [1] }], parameters });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return JSON.parse(r.body.outputs[0].data[0]) as unknown;
    };
    const forged = { a: 'x\0b=string:y' };
    assert.deepEqual(await echo(forged), forged);
    assert.deepEqual(await echo({ a: 'x', b: 'y' }), { a: 'x', b: 'y' });
    assert.deepEqual(await echo({ a: 1 }), { a: 1 });
    assert.deepEqual(await echo({ a: '1' }), { a: '1' });
    assert.deepEqual(await echo(forged), forged, 'the same request again is a hit');
    const s = await stats('echo');
    assert.equal(s.inference_stats.cache_hit.count, 1);
    assert.equal(s.inference_stats.cache_miss.count, 4);
  });

  it('hands the model a generate request\'s integer parameter beyond 2^53 exactly, as /infer does', async () => {
    const r = await server.post('/v2/models/echo/generate', '{"X":1,"seed":12345678901234567891,"parameters":{"n":-9007199254740993}}');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    // A BYTES output holding JSON is answered as that JSON (plain-response.ts).
    assert.deepEqual(r.body.P, { seed: '12345678901234567891', n: '-9007199254740993' });
  });

  it('keeps a cached answer whole when an ensemble moves it to the next step\'s thread', async () => {
    // Large enough to travel as a moved buffer rather than through the small-call mailbox.
    const n = 400_000;
    const a = Array.from({ length: n }, (_, i) => i % 1000);
    for (let i = 0; i < 3; i++) {
      const r = await server.post('/v2/models/pipe/infer', { inputs: [{ name: 'A', datatype: 'INT32', shape: [1, n], data: a }] });
      assert.equal(r.status, 200, `request ${i}: ${JSON.stringify(r.body).slice(0, 300)}`);
      assert.deepEqual(r.body.outputs[0].data, a);
    }
    const s = await stats('ident_cached');
    assert.equal(s.inference_stats.cache_hit.count, 2);
  });

  it('keeps the LRU within its byte budget, evicting the least recently used entry', () => {
    const tensor = (n: number) => ({ name: 'Y', datatype: 'FP32' as const, shape: [n], data: new Float32Array(n) });
    const cache = new ResponseCache(3 * (4000 + 256 + 44));
    const keys = [0, 1, 2, 3].map((i) => cache.key('m1', [{ name: 'X', datatype: 'INT32', shape: [1], data: Int32Array.of(i) }], [], undefined));
    assert.equal(new Set(keys).size, 4);
    for (const key of keys.slice(0, 3)) cache.set(key, 'm', [tensor(1000)]);
    assert.equal(cache.size, 3);
    assert.ok(cache.get(keys[0]!));
    cache.set(keys[3]!, 'm', [tensor(1000)]);
    assert.equal(cache.size, 3);
    assert.ok(cache.bytes <= cache.capacity);
    assert.equal(cache.get(keys[1]!), undefined, 'the least recently used entry went');
    assert.ok(cache.get(keys[0]!) && cache.get(keys[2]!) && cache.get(keys[3]!));
    cache.set('huge', 'm', [tensor(100_000)]);
    assert.equal(cache.get('huge'), undefined, 'an entry larger than the cache is not stored');
    cache.set('other', 'n', [tensor(10)]);
    cache.drop('m');
    assert.equal(cache.size, 1, 'dropping a version keeps the entries of others');
    assert.ok(cache.get('other'));
    // Parameters that change results are part of the key; scheduling ones are not.
    const x = [{ name: 'X', datatype: 'INT32' as const, shape: [1], data: Int32Array.of(1) }];
    assert.notEqual(cache.key('m', x, [], { temperature: 1 }), cache.key('m', x, [], { temperature: 2 }));
    assert.equal(cache.key('m', x, [], { priority: 1, timeout: 5 }), cache.key('m', x, [], undefined));
    assert.notEqual(cache.key('m', x, [], { a: 'x\0b=string:y' }), cache.key('m', x, [], { a: 'x', b: 'y' }));
    assert.notEqual(cache.key('m', x, [], { a: 1 }), cache.key('m', x, [], { a: '1' }));
    assert.deepEqual(parseCacheConfig('local,size=1048576'), { size: 1048576 });
    assert.throws(() => parseCacheConfig('redis,host=x'), /unknown cache "redis"/);
    assert.throws(() => parseCacheConfig('local,size=-1'), /positive/);
  });
});
