/** The repository extension's unload_dependents: unloading a model also unloads the ensembles using it. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { range16 } from '../helpers/simple.js';

const t = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [16] });
const ensemble = (steps: unknown[], input: object[], output: object[]) => ({
  config: { platform: 'ensemble', max_batch_size: 8, input, output, ensemble_scheduling: { step: steps } },
  versions: { 1: '' },
  filename: '.keep',
});

let server: TestServer;
let cleanup: () => Promise<void>;
before(async () => {
  const repo = await makeRepository({
    simple: { versions: { 1: simpleModel() } },
    pipe: ensemble([{ model_name: 'simple', input_map: { INPUT0: 'A', INPUT1: 'B' }, output_map: { OUTPUT0: 'SUM' } }], [t('A'), t('B')], [t('SUM')]),
    outer: ensemble([{ model_name: 'pipe', input_map: { A: 'X', B: 'Y' }, output_map: { SUM: 'Z' } }], [t('X'), t('Y')], [t('Z')]),
  });
  cleanup = repo.cleanup;
  server = await startTestServer(repo.root, { modelControlMode: 'explicit', loadModels: ['*'] });
});
after(async () => {
  await server.close();
  await cleanup();
});

const states = async () => Object.fromEntries(((await server.post('/v2/repository/index', {})).body as any[]).map((e) => [e.name, e.state]));

it('without unload_dependents only the model unloads; with it, every ensemble using it too', async () => {
  assert.deepEqual(await states(), { outer: 'READY', pipe: 'READY', simple: 'READY' });
  const a = range16(1);
  const sum = await server.post('/v2/models/outer/infer', { inputs: [{ name: 'X', shape: [1, 16], datatype: 'INT32', data: a }, { name: 'Y', shape: [1, 16], datatype: 'INT32', data: a }] });
  assert.deepEqual(sum.body.outputs[0].data, a.map((v) => 2 * v));
  assert.equal((await server.post('/v2/repository/models/simple/unload', {})).status, 200);
  assert.deepEqual(await states(), { outer: 'READY', pipe: 'READY', simple: 'UNAVAILABLE' });
  assert.equal((await server.post('/v2/repository/models/simple/load', {})).status, 200);
  const unload = await server.post('/v2/repository/models/simple/unload', { parameters: { unload_dependents: true } });
  assert.equal(unload.status, 200);
  assert.deepEqual(await states(), { outer: 'UNAVAILABLE', pipe: 'UNAVAILABLE', simple: 'UNAVAILABLE' });
});
