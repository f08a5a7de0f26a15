/**
 * The response cache end to end: a repeated request is answered from the cache (statistics:
 * cache_hit, no new execution), a different input or output selection misses, errors are not
 * cached, the LRU stays within its byte budget, a reload drops the version's entries, and a model
 * without response_cache never uses it. Expected outputs are computed here (simple: a + b, a − b).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
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

describe('response cache', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let metricsUrl: string;

  before(async () => {
    const repo = await makeRepository({
      cached: { config: simpleConfig(true), versions: { 1: simpleModel() } },
      uncached: { config: simpleConfig(false), versions: { 1: simpleModel() } },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { cacheConfig: 'local,size=1048576', metricsPort: 0, modelControlMode: 'explicit', loadModels: ['*'] });
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
    assert.deepEqual(parseCacheConfig('local,size=1048576'), { size: 1048576 });
    assert.throws(() => parseCacheConfig('redis,host=x'), /unknown cache "redis"/);
    assert.throws(() => parseCacheConfig('local,size=-1'), /positive/);
  });
});
