/**
 * A reload may not close a loop between ensembles: `outer` uses `pipe`; loading `pipe` again with a
 * configuration (a config override here; a poll sees an edited file the same way) that makes it an
 * ensemble over `outer` would send every request round the loop forever, holding the event loop and
 * growing the heap (the server stopped answering health checks, RSS 0.1 → 1.4 GB in 10 s). The load is
 * refused with its reason, as Triton refuses circular ensembles, and the serving `pipe` stays. Two
 * reloads side by side, each planned against the other's old configuration, are checked again as their
 * versions go in.
 */
import assert from 'node:assert/strict';
import { after, before, it, mock } from 'node:test';
import { ModelCodecs } from '../../src/codecs/model-codecs.js';
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
  const repo = await makeRepository({ simple: { versions: { 1: simpleModel() } }, pipe: ensemble('simple'), outer: ensemble('pipe'), top: ensemble('outer'), e1: ensemble('simple'), e2: ensemble('simple') });
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
  assert.deepEqual(states, ['e1:READY', 'e2:READY', 'outer:READY', 'pipe:READY', 'simple:READY', 'top:READY']);
  assert.deepEqual((await infer('top')).body.outputs?.[0].data, a.map((v) => 2 * v));
  // A reload that closes no loop still passes.
  assert.equal((await server.post('/v2/repository/models/pipe/load', { parameters: { config: JSON.stringify(ensembleConfig('simple')) } })).status, 200);
});

it('refuses the loop two reloads side by side would close, each planned against the other\'s old configuration', async () => {
  // e1 over e2 is no loop while e2 runs `simple`, nor e2 over e1 while e1 does: together they are one.
  for (const name of ['e1', 'e2']) assert.equal((await server.post(`/v2/repository/models/${name}/load`, { parameters: { config: JSON.stringify(ensembleConfig('simple')) } })).status, 200);
  // e1's reload is held after its plan (at its codecs, the await before its versions go in) while e2's
  // reload runs through: e1 was planned against the e2 that ran `simple`.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let held = false;
  const build = ModelCodecs.build.bind(ModelCodecs);
  const codecs = mock.method(ModelCodecs, 'build', async (...args: Parameters<typeof ModelCodecs.build>) => {
    if (!held) {
      held = true;
      await gate;
    }
    return build(...args);
  });
  try {
    const first = server.post('/v2/repository/models/e1/load', { parameters: { config: JSON.stringify(ensembleConfig('e2')) } });
    for (let i = 0; !held; i++) {
      assert.ok(i < 500, 'e1\'s reload never reached its codecs');
      await new Promise((r) => setTimeout(r, 10));
    }
    const second = await server.post('/v2/repository/models/e2/load', { parameters: { config: JSON.stringify(ensembleConfig('e1')) } });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    release();
    const refused = await first;
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(refused.body.error, /leads back to the ensemble .*"e1" → "e2" → "e1"/);
  } finally {
    release();
    codecs.mock.restore();
  }
  // Both answer: e2 through e1, which still runs `simple`.
  for (const name of ['e1', 'e2']) assert.deepEqual((await infer(name)).body.outputs?.[0].data, a.map((v) => 2 * v));
});
