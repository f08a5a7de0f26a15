/** V1 REST (TF Serving / KServe V1) end to end: status, metadata, predict, and its errors. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { add, range16, sub } from '../helpers/simple.js';

describe('V1 REST', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      simple: { versions: { 1: simpleModel(), 2: simpleModel() }, config: { max_batch_size: 8, version_policy: { all: {} } } },
      broken: { versions: { 1: 'not an onnx model' } },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { strictReadiness: false });
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  it('GET / is alive and GET /v1/models lists every model', async () => {
    assert.deepEqual((await server.get('/')).body, { status: 'alive' });
    assert.deepEqual((await server.get('/v1/models')).body, { models: ['broken', 'simple'] });
  });

  it('model status in KServe and TF Serving shapes, per version', async () => {
    const ok = { error_code: 'OK', error_message: '' };
    const all = await server.get('/v1/models/simple');
    assert.equal(all.status, 200);
    assert.deepEqual(all.body, {
      name: 'simple', ready: true,
      model_version_status: [{ version: '1', state: 'AVAILABLE', status: ok }, { version: '2', state: 'AVAILABLE', status: ok }],
    });
    const v2 = await server.get('/v1/models/simple/versions/2');
    assert.deepEqual(v2.body.model_version_status, [{ version: '2', state: 'AVAILABLE', status: ok }]);
    assert.equal((await server.get('/v1/models/simple/versions/9')).status, 404);
    const missing = await server.get('/v1/models/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: 'unknown model "nope"' });
  });

  it('a model that failed to load is 503 with state END and its reason', async () => {
    const broken = await server.get('/v1/models/broken');
    assert.equal(broken.status, 503);
    assert.equal(broken.body.ready, false);
    assert.equal(broken.body.model_version_status[0].state, 'END');
    assert.equal(broken.body.model_version_status[0].status.error_code, 'UNKNOWN');
    assert.ok(broken.body.model_version_status[0].status.error_message.length > 0);
    const predict = await server.post('/v1/models/broken:predict', { instances: [[1]] });
    assert.equal(predict.status, 503);
    assert.match(predict.body.error, /not ready/);
  });

  it('metadata is a TF Serving signature_def', async () => {
    const { status, body } = await server.get('/v1/models/simple/versions/1/metadata');
    assert.equal(status, 200);
    assert.deepEqual(body.model_spec, { name: 'simple', signature_name: '', version: '1' });
    const sig = body.metadata.signature_def.signature_def.serving_default;
    assert.equal(sig.method_name, 'tensorflow/serving/predict');
    assert.deepEqual(sig.inputs.INPUT0, { dtype: 'DT_INT32', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '16', name: '' }], unknown_rank: false }, name: 'INPUT0' });
    assert.deepEqual(Object.keys(sig.outputs), ['OUTPUT0', 'OUTPUT1']);
  });

  it('predicts rows and columns on a named version; sums computed here', async () => {
    const a = range16(4);
    const b = range16(-9);
    const rows = await server.post('/v1/models/simple/versions/2:predict', { signature_name: 'serving_default', instances: [{ INPUT0: a, INPUT1: b }, { INPUT0: b, INPUT1: a }] });
    assert.equal(rows.status, 200);
    assert.deepEqual(rows.body, { predictions: [{ OUTPUT0: add(a, b), OUTPUT1: sub(a, b) }, { OUTPUT0: add(b, a), OUTPUT1: sub(b, a) }] });
    const columns = await server.post('/v1/models/simple:predict', { inputs: { INPUT0: [a], INPUT1: [b] } });
    assert.deepEqual(columns.body, { outputs: { OUTPUT0: [add(a, b)], OUTPUT1: [sub(a, b)] } });
  });

  it('errors are {"error"} with 400 and 404, and name the problem', async () => {
    const cases: [string, unknown, number, RegExp][] = [
      ['/v1/models/simple:predict', { instances: [], inputs: {} }, 400, /both "instances".*and "inputs"/],
      ['/v1/models/simple:predict', { signature_name: 'x' }, 400, /needs "instances".*or "inputs"/],
      // A signature the model does not have is refused, not answered from serving_default.
      ['/v1/models/simple:predict', { signature_name: 'classify', instances: [{ INPUT0: range16(), INPUT1: range16() }] }, 400, /serving signature name "classify" not found/],
      ['/v1/models/simple:predict', { instances: [range16()] }, 400, /must be an object keyed by input name/],
      ['/v1/models/simple:predict', { instances: [{ INPUT0: range16(), INPUT1: range16().slice(1) }] }, 400, /INPUT1.*shape/],
      ['/v1/models/simple:predict', { instances: [{ INPUT0: range16(), INPUT1: range16(), EXTRA: [1] }] }, 400, /unexpected input "EXTRA"/],
      ['/v1/models/simple:predict', { inputs: { INPUT0: [[1, 2], [3]], INPUT1: [[1]] } }, 400, /not a rectangular/],
      ['/v1/models/simple:predict', { instances: [{ INPUT0: range16().map(String), INPUT1: range16() }] }, 400, /not a valid INT32 value/],
      ['/v1/models/nope:predict', { instances: [[1]] }, 404, /Request for unknown model: 'nope' is not found/],
      ['/v1/models/simple/versions/7:predict', { instances: [[1]] }, 404, /Request for unknown model: 'simple' version 7 is not found/],
    ];
    for (const [path, body, status, message] of cases) {
      const response = await server.post(path, body);
      assert.equal(response.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(response.body)}`);
      assert.match(response.body.error, message);
    }
    const notJson = await server.post('/v1/models/simple:predict', '{"instances": [', { 'content-type': 'text/plain' });
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.error, /not valid JSON/);
  });
});
