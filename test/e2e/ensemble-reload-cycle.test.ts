/**
 * A reload may not close a loop between ensembles: `outer` uses `pipe`; loading `pipe` again with a
 * configuration (a config override here; a poll sees an edited file the same way) that makes it an
 * ensemble over `outer` would send every request round the loop forever, holding the event loop and
 * growing the heap (the server stopped answering health checks, RSS 0.1 → 1.4 GB in 10 s). The load is
 * refused with its reason, as Triton refuses circular ensembles, and the serving `pipe` stays.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { range16 } from '../helpers/simple.js';

const t = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [16] });
const ensembleConfig = (step: string) => ({
  platform: 'ensemble', max_batch_size: 8, input: [t('A'), t('B')], output: [t('SUM')],
  ensemble_scheduling: { step: step === 'simple'
    ? [{ model_name: 'simple', input_map: { INPUT0: 'A', INPUT1: 'B' }, output_map: { OUTPUT0: 'SUM' } }]
    : [{ model_name: step, input_map: { A: 'A', B: 'B' }, output_map: { SUM: 'SUM' } }] },
});
const ensemble = (step: string) => ({ config: ensembleConfig(step), versions: { 1: '' }, filename: '.keep' });

let server: TestServer;
let cleanup: () => Promise<void>;
before(async () => {
  const repo = await makeRepository({ simple: { versions: { 1: simpleModel() } }, pipe: ensemble('simple'), outer: ensemble('pipe'), top: ensemble('outer') });
  cleanup = repo.cleanup;
  server = await startTestServer(repo.root, { modelControlMode: 'explicit', loadModels: ['*'] });
});
after(async () => {
  await server.close();
  await cleanup();
});

const a = range16(3);
const infer = (model: string) => server.post(`/v2/models/${model}/infer`, { inputs: [{ name: 'A', shape: [1, 16], datatype: 'INT32', data: a }, { name: 'B', shape: [1, 16], datatype: 'INT32', data: a }] });

it('refuses a reload that makes ensembles call each other in a cycle, directly or through another ensemble', async () => {
  assert.deepEqual((await infer('top')).body.outputs?.[0].data, a.map((v) => 2 * v));
  for (const over of ['outer', 'top']) {
    const load = await server.post('/v2/repository/models/pipe/load', { parameters: { config: JSON.stringify(ensembleConfig(over)) } });
    assert.equal(load.status, 400, JSON.stringify(load.body));
    assert.match(load.body.error, /leads back to the ensemble .*"pipe" → .*"pipe".*cycle/);
  }
  // The serving versions stay, and requests through them are answered.
  const states = ((await server.post('/v2/repository/index', {})).body as { name: string; state: string }[]).map((e) => `${e.name}:${e.state}`);
  assert.deepEqual(states, ['outer:READY', 'pipe:READY', 'simple:READY', 'top:READY']);
  assert.deepEqual((await infer('top')).body.outputs?.[0].data, a.map((v) => 2 * v));
  // A reload that closes no loop still passes.
  assert.equal((await server.post('/v2/repository/models/pipe/load', { parameters: { config: JSON.stringify(ensembleConfig('simple')) } })).status, 200);
});
