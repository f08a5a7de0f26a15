/**
 * Hot reload under load: several closed-loop clients keep sending while the model is replaced five
 * times (new version directories and a changed file in place). No request may fail, and each
 * replacement must switch the outputs at a single point: once a request saw the new model, no
 * request that started later sees the old one.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { ModelInstance } from '../../src/backends/backend.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ADD_CONFIG, addModel, addRequest, base64, waitFor } from '../helpers/lifecycle.js';

const CONFIG = { ...ADD_CONFIG, instance_group: [{ count: 2, kind: 'KIND_CPU' }], dynamic_batching: { max_queue_delay_microseconds: 2000 } };
const CLIENTS = 6;
/** Each replacement: which version directory receives a model adding `k`. */
const REPLACEMENTS = [{ version: 2, k: 2 }, { version: 3, k: 3 }, { version: 3, k: 4 }, { version: 4, k: 5 }, { version: 4, k: 6 }];

interface Sample { client: number; start: number; end: number; k?: number; version?: string; failure?: string }

let server: TestServer;
let repo: { root: string; cleanup: () => Promise<void> };
before(async () => {
  repo = await makeRepository({ adder: { config: CONFIG, versions: { 1: addModel(1) } } });
  server = await startTestServer(repo.root, { modelControlMode: 'explicit', loadModels: ['adder'] });
});
after(async () => {
  await server.close();
  await repo.cleanup();
});

it('replaces a model five times under load with zero failures and one switch point each', async () => {
  let clock = 0;
  let stop = false;
  const samples: Sample[] = [];
  const client = async (id: number) => {
    for (let i = 0; !stop; i++) {
      const x = [id, i % 100, 7, -3];
      const sample: Sample = { client: id, start: ++clock, end: 0 };
      try {
        const response = await server.post('/v2/models/adder/infer', addRequest(x));
        if (response.status !== 200) sample.failure = `${response.status} ${JSON.stringify(response.body)}`;
        else {
          const out: number[] = response.body.outputs[0].data;
          const k = out[0]! - x[0]!;
          if (!out.every((v, j) => v === x[j]! + k)) sample.failure = `inconsistent output ${out}`;
          sample.k = k;
          sample.version = response.body.model_version;
        }
      } catch (error) {
        sample.failure = String(error);
      }
      sample.end = ++clock;
      samples.push(sample);
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, id) => client(id));
  const loadDone = new Map<number, number>();
  const retiredInstances: ModelInstance[][] = [];
  try {
    await waitFor('traffic on version 1', () => samples.length >= 30);
    for (const { version, k } of REPLACEMENTS) {
      const serving = server.server.repository.find('adder');
      retiredInstances.push([...(serving.instances ?? [])]);
      const response = await server.post('/v2/repository/models/adder/load', {
        parameters: { config: JSON.stringify(CONFIG), [`file:${version}/model.onnx`]: base64(addModel(k)) },
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      loadDone.set(k, ++clock);
      const seen = samples.length;
      await waitFor(`traffic after replacement ${k}`, () => samples.length >= seen + 30);
    }
  } finally {
    stop = true;
    await Promise.all(clients);
  }

  assert.deepEqual(samples.filter((s) => s.failure).map((s) => s.failure), [], 'no request failed');
  const versionOfK: Record<number, string> = { 1: '1', 2: '2', 3: '3', 4: '3', 5: '4', 6: '4' };
  for (const s of samples) assert.equal(s.version, versionOfK[s.k!], `k=${s.k} answered by version ${s.version}`);
  assert.deepEqual([...new Set(samples.map((s) => s.k))].sort(), [1, 2, 3, 4, 5, 6], 'every model served some requests');
  // Once a replacement returned, every request that starts later sees the new model (or a newer one).
  for (const [k, done] of loadDone) {
    const stale = samples.filter((s) => s.start > done && s.k! < k);
    assert.deepEqual(stale, [], `requests started after replacement ${k} finished saw an older model`);
  }
  // One switch point: no request sees an older model than one that finished before it started.
  const byEnd = [...samples].sort((a, b) => a.end - b.end);
  for (const s of samples) {
    const before = byEnd.filter((q) => q.end < s.start);
    const newest = Math.max(0, ...before.map((q) => q.k!));
    assert.ok(s.k! >= newest, `a request started at ${s.start} saw k=${s.k} after one that ended earlier saw k=${newest}`);
  }
  for (let c = 0; c < CLIENTS; c++) {
    const ks = samples.filter((s) => s.client === c).map((s) => s.k!);
    assert.deepEqual(ks, [...ks].sort((a, b) => a - b), `client ${c} went back to an older model`);
  }
  // The replaced versions' workers ended; only the last version remains.
  for (const instances of retiredInstances) {
    assert.equal(instances.length, 2);
    // A closed instance's worker is gone: it can no longer execute anything.
    for (const instance of instances) {
      const input = { name: 'INPUT', datatype: 'FP32' as const, shape: [1, 4], data: new Float32Array(4) };
      await assert.rejects(instance.execute([input], []), (error: any) => error.code === 'VIREO_ERR_WORKER_DIED');
    }
  }
  const index = (await server.post('/v2/repository/index', {})).body;
  assert.deepEqual(index, [{ name: 'adder', version: '4', state: 'READY', reason: '' }]);
});
