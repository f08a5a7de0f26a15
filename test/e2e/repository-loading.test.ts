/** Model repository behaviour: auto-complete, version policies, failures that leave others serving, config errors. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { identityModel, simpleModel } from '../../tools/modelgen/models.js';
import { buildModel } from '../../tools/modelgen/onnx-graph.js';
import { captureLogger } from '../helpers/logs.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { add, range16, simpleRequest } from '../helpers/simple.js';

/** y = x + c for FP32 [batch, 4]: the output tells which version answered. */
function addConstant(c: number): Uint8Array {
  return buildModel({
    name: `plus_${c}`,
    inputs: [{ name: 'x', type: 'FLOAT', dims: ['batch', 4] }],
    outputs: [{ name: 'y', type: 'FLOAT', dims: ['batch', 4] }],
    initializers: [{ name: 'c', type: 'FLOAT', dims: [1], values: [c] }],
    nodes: [{ op: 'Add', inputs: ['x', 'c'], outputs: ['y'] }],
  });
}

const x4 = { name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] };

describe('model repository loading', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  const { logger, lines } = captureLogger();
  before(async () => {
    const repo = await makeRepository({
      // no config at all: everything from the model
      auto: { versions: { 1: simpleModel() } },
      // partial config: only max_batch_size given
      partial: { config: { max_batch_size: 2 }, versions: { 1: simpleModel() } },
      latest2: { config: { version_policy: { latest: { num_versions: 2 } } }, versions: { 1: addConstant(1), 2: addConstant(2), 3: addConstant(3) } },
      all: { config: { version_policy: { all: {} } }, versions: { 1: addConstant(10), 4: addConstant(40) } },
      specific: { config: { version_policy: { specific: { versions: [1] } } }, versions: { 1: addConstant(100), 2: addConstant(200) } },
      corrupt: { versions: { 1: 'this is not an onnx model' } },
      missing_file: { config: {}, versions: { 1: simpleModel() }, filename: 'other.onnx' },
      bad_key: { config: { max_batch_size: 4, dynamic_batching: { max_queue_delay_micros: 5 } }, versions: { 1: simpleModel() } },
      bad_yaml: { config: 'max_batch_size: [unclosed', versions: { 1: simpleModel() } },
      wrong_type: { config: { input: [{ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [16] }] }, versions: { 1: simpleModel() } },
      wrong_name: { config: { input: [{ name: 'NOPE', data_type: 'INT32', dims: [16] }] }, versions: { 1: simpleModel() } },
      no_versions: { config: { max_batch_size: 1 }, versions: {} },
      fixed: { versions: { 1: identityModel('FLOAT', [2, 3]) } },
      json_config: { config: '{"max_batch_size": 3}', configFile: 'config.json', versions: { 1: simpleModel() } },
      cuda_wanted: { config: { execution_providers: ['cuda'] }, versions: { 1: simpleModel() } },
      empty_group: { config: { instance_group: [] }, versions: { 1: simpleModel() } },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { strictReadiness: false, logger });
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  it('auto-completes inputs, outputs and max_batch_size from the ONNX model', async () => {
    const config = (await server.get('/v2/models/auto/config')).body;
    assert.equal(config.max_batch_size, 4); // the default for a dynamic first dimension
    assert.deepEqual(config.input.map((i: any) => [i.name, i.data_type, i.dims]), [['INPUT0', 'TYPE_INT32', [16]], ['INPUT1', 'TYPE_INT32', [16]]]);
    assert.deepEqual(config.output.map((o: any) => o.name), ['OUTPUT0', 'OUTPUT1']);
    const a = range16(5);
    const { body } = await server.post('/v2/models/auto/infer', simpleRequest(a, a));
    assert.deepEqual(body.outputs[0].data, add(a, a));
  });

  it('keeps what a partial config says and fills the rest', async () => {
    const config = (await server.get('/v2/models/partial/config')).body;
    assert.equal(config.max_batch_size, 2);
    assert.equal(config.input.length, 2);
    const tooBig = await server.post('/v2/models/partial/infer', { inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [3, 16], data: new Array(48).fill(0) })) });
    assert.equal(tooBig.status, 400);
    assert.match(tooBig.body.error, /batch-size must be <= 2 for 'partial'/);
    assert.equal((await server.get('/v2/models/json_config/config')).body.max_batch_size, 3);
  });

  it('an empty instance_group runs one instance, as Triton does', async () => {
    assert.deepEqual((await server.get('/v2/models/empty_group/config')).body.instance_group.map((g: any) => g.count), [1]);
    const a = range16(3);
    const { status, body } = await server.post('/v2/models/empty_group/infer', simpleRequest(a, a));
    assert.equal(status, 200);
    assert.deepEqual(body.outputs[0].data, add(a, a));
  });

  it('a model with fixed dims gets max_batch_size 0 and no batch dimension', async () => {
    const meta = (await server.get('/v2/models/fixed')).body;
    assert.deepEqual(meta.inputs[0].shape, [2, 3]);
    const { status, body } = await server.post('/v2/models/fixed/infer', { inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }] });
    assert.equal(status, 200);
    assert.deepEqual(body.outputs[0].data, [1, 2, 3, 4, 5, 6]);
  });

  it('version policy latest 2 serves 2 and 3, unversioned requests go to 3', async () => {
    assert.deepEqual((await server.get('/v2/models/latest2')).body.versions, ['2', '3']);
    assert.deepEqual((await server.post('/v2/models/latest2/infer', { inputs: [x4] })).body.outputs[0].data, [4, 5, 6, 7]);
    assert.deepEqual((await server.post('/v2/models/latest2/versions/2/infer', { inputs: [x4] })).body.outputs[0].data, [3, 4, 5, 6]);
    assert.equal((await server.post('/v2/models/latest2/versions/1/infer', { inputs: [x4] })).status, 404);
  });

  it('version policy all and specific', async () => {
    assert.deepEqual((await server.get('/v2/models/all')).body.versions, ['1', '4']);
    assert.deepEqual((await server.post('/v2/models/all/versions/1/infer', { inputs: [x4] })).body.outputs[0].data, [11, 12, 13, 14]);
    assert.deepEqual((await server.post('/v2/models/all/infer', { inputs: [x4] })).body.outputs[0].data, [41, 42, 43, 44]);
    assert.deepEqual((await server.get('/v2/models/specific')).body.versions, ['1']);
    assert.deepEqual((await server.post('/v2/models/specific/infer', { inputs: [x4] })).body.outputs[0].data, [101, 102, 103, 104]);
  });

  const failures: [string, RegExp][] = [
    ['corrupt', /onnxruntime could not load/],
    ['missing_file', /model file 1\/model\.onnx is missing/],
    ['bad_key', /dynamic_batching\.max_queue_delay_micros: unknown key/],
    ['bad_yaml', /config\.yaml is not valid YAML/],
    ['wrong_type', /input "INPUT0": configured as FP32 but the model says INT32/],
    ['wrong_name', /input "NOPE" is in the configuration but not in the model/],
    ['no_versions', /no version directories/],
  ];
  for (const [model, reason] of failures) {
    it(`${model}: UNAVAILABLE with its reason, while the others serve`, async () => {
      const ready = await server.get(`/v2/models/${model}/ready`);
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.body, { name: model, ready: false });
      const infer = await server.post(`/v2/models/${model}/infer`, simpleRequest(range16(), range16()));
      assert.equal(infer.status, 503);
      assert.match(infer.body.error, reason);
      const simple = await server.post('/v2/models/auto/infer', simpleRequest(range16(), range16()));
      assert.equal(simple.status, 200);
    });
  }

  it('strict readiness is false while a model is unavailable; non-strict is ready', async () => {
    assert.equal(server.server.isReady(), true); // started with strictReadiness: false
    assert.equal(server.server.repository.isReady(true), false);
  });

  it('a provider that cannot load falls back to CPU and the model serves', async () => {
    const a = range16(1);
    const { status, body } = await server.post('/v2/models/cuda_wanted/infer', simpleRequest(a, a));
    assert.equal(status, 200);
    assert.deepEqual(body.outputs[0].data, add(a, a));
    const warning = lines.find((l) => l.model === 'cuda_wanted' && /execution provider cuda is not available here/.test(String(l.msg)));
    assert.ok(warning, 'the fallback is logged');
    assert.equal(warning.level, 40);
  });

  it('logs one line per model: loaded with its version, inputs, outputs and time, or failed with why', () => {
    const loaded = lines.find((l) => l.msg === 'model loaded' && l.model === 'auto')!;
    assert.equal(loaded.version, '1');
    assert.deepEqual(loaded.inputs, ['INPUT0:INT32[16]', 'INPUT1:INT32[16]']);
    assert.equal(typeof loaded.loadMs, 'number');
    const failed = lines.filter((l) => l.msg === 'model failed to load' && l.model === 'corrupt');
    assert.equal(failed.length, 1);
    assert.match(String(failed[0]!.reason), /onnxruntime could not load/);
  });
});

describe('auto-complete disabled', () => {
  it('refuses incomplete configurations and serves complete ones', async () => {
    const complete = {
      max_batch_size: 8,
      input: [{ name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] }, { name: 'INPUT1', data_type: 'TYPE_INT32', dims: [16] }],
      output: [{ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] }, { name: 'OUTPUT1', data_type: 'TYPE_INT32', dims: [16] }],
    };
    const repo = await makeRepository({
      incomplete: { versions: { 1: simpleModel() } },
      complete: { config: complete, versions: { 1: simpleModel() } },
    });
    const server = await startTestServer(repo.root, { autoComplete: false });
    try {
      const incomplete = await server.post('/v2/models/incomplete/infer', simpleRequest(range16(), range16()));
      assert.equal(incomplete.status, 503);
      assert.match(incomplete.body.error, /max_batch_size is required when auto-complete is disabled/);
      assert.equal((await server.get('/v2/health/ready')).status, 503);
      const ok = await server.post('/v2/models/complete/infer', simpleRequest(range16(), range16()));
      assert.equal(ok.status, 200);
    } finally {
      await server.close();
      await repo.cleanup();
    }
  });
});
