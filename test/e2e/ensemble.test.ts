/**
 * Ensembles (Triton's ensemble_scheduling) over real HTTP: a three-step DAG over generated models
 * whose results are computed by hand, and the load-time refusals of broken pipelines.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { identityModel, simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { range16 } from '../helpers/simple.js';

const t = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [16] });

function ensemble(steps: unknown[], output = [t('OUT_A'), t('twice_b'), t('sum')]) {
  return {
    config: { platform: 'ensemble', max_batch_size: 8, input: [t('A'), t('B')], output, ensemble_scheduling: { step: steps } },
    versions: { 1: '' },
    filename: '.keep',
  };
}

// Listed out of dependency order on purpose: the DAG decides when each step runs.
const chain = [
  { model_name: 'identity', model_version: -1, input_map: { INPUT: 'twice_a' }, output_map: { OUTPUT: 'OUT_A' } },
  { model_name: 'simple', model_version: 1, input_map: { INPUT0: 'sum', INPUT1: 'diff' }, output_map: { OUTPUT0: 'twice_a', OUTPUT1: 'twice_b' } },
  { model_name: 'simple', model_version: -1, input_map: { INPUT0: 'A', INPUT1: 'B' }, output_map: { OUTPUT0: 'sum', OUTPUT1: 'diff' } },
];

describe('ensembles', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      simple: { versions: { 1: simpleModel() } },
      identity: { versions: { 1: identityModel('INT32') } },
      pipeline: ensemble(chain),
      cyclic: ensemble([
        { model_name: 'simple', input_map: { INPUT0: 'A', INPUT1: 'y' }, output_map: { OUTPUT0: 'x', OUTPUT1: 'OUT_A' } },
        { model_name: 'simple', input_map: { INPUT0: 'x', INPUT1: 'B' }, output_map: { OUTPUT0: 'y', OUTPUT1: 'twice_b' } },
      ], [t('OUT_A'), t('twice_b')]),
      unknown_model: ensemble([{ model_name: 'nowhere', input_map: { X: 'A' }, output_map: { Y: 'OUT_A' } }], [t('OUT_A')]),
      unmapped_input: ensemble([{ model_name: 'simple', input_map: { INPUT0: 'A' }, output_map: { OUTPUT0: 'OUT_A' } }], [t('OUT_A')]),
      never_produced: ensemble([{ model_name: 'simple', input_map: { INPUT0: 'A', INPUT1: 'C' }, output_map: { OUTPUT0: 'OUT_A' } }], [t('OUT_A')]),
      missing_output: ensemble([{ model_name: 'simple', input_map: { INPUT0: 'A', INPUT1: 'B' }, output_map: { OUTPUT0: 'OUT_A' } }], [t('OUT_A'), t('OUT_B')]),
      wrong_output: ensemble([{ model_name: 'simple', input_map: { INPUT0: 'A', INPUT1: 'B' }, output_map: { OUTPUT9: 'OUT_A' } }], [t('OUT_A')]),
      picky: {
        config: { backend: 'typescript', max_batch_size: 8, input: [t('X')], output: [t('Y')] },
        versions: { 1: 'export function execute(requests) { if (requests[0].inputs.X.data[0] < 0) throw new Error("negative input"); return requests.map((r) => ({ outputs: { Y: { data: r.inputs.X.data } } })); }' },
        filename: 'model.js',
      },
      guarded: ensemble([
        { model_name: 'simple', input_map: { INPUT0: 'A', INPUT1: 'B' }, output_map: { OUTPUT0: 'sum' } },
        { model_name: 'picky', input_map: { X: 'sum' }, output_map: { Y: 'OUT_A' } },
      ], [t('OUT_A')]),
      nested: {
        config: {
          platform: 'ensemble', max_batch_size: 8, input: [t('P'), t('Q')], output: [t('R')],
          ensemble_scheduling: { step: [{ model_name: 'pipeline', input_map: { A: 'P', B: 'Q' }, output_map: { OUT_A: 'R' } }] },
        },
        versions: { 1: '' },
        filename: '.keep',
      },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { strictReadiness: false });
  });

  after(async () => {
    await server.close();
    await cleanup();
  });

  it('runs the steps in dependency order, each through its own model, and returns the mapped tensors', async () => {
    const a = range16(5);
    const b = range16(-40);
    const answer = await server.post('/v2/models/pipeline/infer', {
      inputs: [
        { name: 'A', datatype: 'INT32', shape: [1, 16], data: a },
        { name: 'B', datatype: 'INT32', shape: [1, 16], data: b },
      ],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    // sum = a + b, diff = a − b; (sum + diff) = 2a, (sum − diff) = 2b.
    const byName = Object.fromEntries(answer.body.outputs.map((o: { name: string; data: number[]; shape: number[] }) => [o.name, o]));
    assert.deepEqual(byName.OUT_A.data, a.map((x) => 2 * x));
    assert.deepEqual(byName.twice_b.data, b.map((x) => 2 * x));
    assert.deepEqual(byName.sum.data, a.map((x, i) => x + b[i]!));
    assert.deepEqual(byName.OUT_A.shape, [1, 16]);
    const simple = (await server.get('/v2/models/simple/stats')).body.model_stats[0];
    assert.equal(simple.inference_count, 2);
    const identity = (await server.get('/v2/models/identity/stats')).body.model_stats[0];
    assert.equal(identity.inference_count, 1);
    const own = (await server.get('/v2/models/pipeline/stats')).body.model_stats[0];
    assert.equal(own.inference_count, 1);
    const meta = await server.get('/v2/models/pipeline');
    assert.equal(meta.body.platform, 'ensemble');
  });

  it('returns only the outputs asked for, and serves an ensemble made of an ensemble', async () => {
    const a = range16(1);
    const b = range16(2);
    const only = await server.post('/v2/models/pipeline/infer', {
      inputs: [
        { name: 'A', datatype: 'INT32', shape: [1, 16], data: a },
        { name: 'B', datatype: 'INT32', shape: [1, 16], data: b },
      ],
      outputs: [{ name: 'twice_b' }],
    });
    assert.equal(only.status, 200, JSON.stringify(only.body));
    assert.deepEqual(only.body.outputs.map((o: { name: string }) => o.name), ['twice_b']);
    assert.deepEqual(only.body.outputs[0].data, b.map((x) => 2 * x));
    const nested = await server.post('/v2/models/nested/infer', {
      inputs: [
        { name: 'P', datatype: 'INT32', shape: [1, 16], data: a },
        { name: 'Q', datatype: 'INT32', shape: [1, 16], data: b },
      ],
    });
    assert.equal(nested.status, 200, JSON.stringify(nested.body));
    assert.deepEqual(nested.body.outputs[0].data, a.map((x) => 2 * x));
  });

  it('fails the request with the failing step named, and runs a handler model as a step', async () => {
    const request = (a: number[]) => server.post('/v2/models/guarded/infer', {
      inputs: [
        { name: 'A', datatype: 'INT32', shape: [1, 16], data: a },
        { name: 'B', datatype: 'INT32', shape: [1, 16], data: range16() },
      ],
    });
    const ok = await request(range16(10));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.outputs[0].data, range16().map((x) => 2 * x + 10));
    const failed = await request(range16(-100));
    assert.equal(failed.status, 500);
    assert.match(failed.body.error, /ensemble step 1 \(model "picky"\) failed: model code failed: negative input/);
  });

  it('validates requests against the ensemble configuration', async () => {
    const answer = await server.post('/v2/models/pipeline/infer', {
      inputs: [{ name: 'A', datatype: 'INT32', shape: [1, 16], data: range16() }],
    });
    assert.equal(answer.status, 400);
    assert.match(answer.body.error, /missing required input\(s\) \['B'\]/);
  });

  it('refuses cycles, unknown models, unmapped inputs and tensors nobody produces at load time', async () => {
    const reason = (name: string) => server.server.repositoryIndex().find((e) => e.name === name)?.reason ?? '';
    assert.match(reason('cyclic'), /ensemble "cyclic": steps 0 \("simple"\), 1 \("simple"\) depend on each other in a cycle/);
    assert.match(reason('unknown_model'), /step 0 \(model "nowhere"\): the repository has no model "nowhere"/);
    assert.match(reason('unmapped_input'), /input "INPUT1" is not mapped in input_map/);
    assert.match(reason('never_produced'), /reads tensor "C" \(for input "INPUT1"\), which no ensemble input or step produces/);
    assert.match(reason('missing_output'), /output "OUT_B" is not produced by any step's output_map/);
    assert.match(reason('wrong_output'), /output_map names "OUTPUT9", which is not an output of that model/);
    const ready = await server.get('/v2/models/cyclic/ready');
    assert.equal(ready.status, 503);
  });
});
