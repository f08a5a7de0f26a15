/** OIP REST end to end over the bundled example repository: every endpoint and error case. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { add, range16, simpleRequest, sub } from '../helpers/simple.js';

const examples = join(import.meta.dirname, '..', '..', 'examples', 'models');

describe('OIP REST on the example repository', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(examples); });
  after(async () => { await server.close(); });

  it('reports live and ready with JSON bodies', async () => {
    assert.deepEqual(await server.get('/v2/health/live'), { status: 200, body: { live: true }, headers: (await server.get('/v2/health/live')).headers });
    const ready = await server.get('/v2/health/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { ready: true });
  });

  it('describes the server with only implemented extensions', async () => {
    const { status, body } = await server.get('/v2');
    assert.equal(status, 200);
    assert.equal(body.name, 'vireo');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.ok(Array.isArray(body.extensions));
    assert.ok(body.extensions.includes('statistics'));
  });

  it('describes simple with a -1 batch dimension, versioned and not', async () => {
    const expected = {
      name: 'simple', versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [-1, 16] }],
      outputs: [{ name: 'OUTPUT0', datatype: 'INT32', shape: [-1, 16] }, { name: 'OUTPUT1', datatype: 'INT32', shape: [-1, 16] }],
    };
    assert.deepEqual((await server.get('/v2/models/simple')).body, expected);
    assert.deepEqual((await server.get('/v2/models/simple/versions/1')).body, expected);
  });

  it('auto-completes the OCR models from their ONNX metadata', async () => {
    const det = (await server.get('/v2/models/ocr_det')).body;
    assert.deepEqual(det.inputs, [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }]);
    const rec = (await server.get('/v2/models/ocr_rec')).body;
    assert.equal(rec.outputs[0].shape.at(-1), 6625);
    for (const m of ['ocr_det', 'ocr_rec', 'ocr_cls']) {
      assert.deepEqual((await server.get(`/v2/models/${m}/ready`)).body, { name: m, ready: true });
    }
  });

  it('model ready, versioned and unversioned; unknown model and version are 404', async () => {
    assert.deepEqual((await server.get('/v2/models/simple/versions/1/ready')).body, { name: 'simple', ready: true });
    const unknown = await server.get('/v2/models/nope/ready');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /Request for unknown model: 'nope' is not found/);
    const badVersion = await server.get('/v2/models/simple/versions/7');
    assert.equal(badVersion.status, 404);
    assert.match(badVersion.body.error, /Request for unknown model: 'simple' version 7 is not found/);
  });

  it('infers simple: sums and differences computed here', async () => {
    const a = range16(3);
    const b = range16(-7).map((x) => x * 2);
    const { status, body } = await server.post('/v2/models/simple/infer', simpleRequest(a, b, { id: 'req-42' }));
    assert.equal(status, 200);
    assert.equal(body.id, 'req-42');
    assert.equal(body.model_name, 'simple');
    assert.equal(body.model_version, '1');
    const byName = Object.fromEntries(body.outputs.map((o: any) => [o.name, o]));
    assert.deepEqual(byName.OUTPUT0, { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16], data: add(a, b) });
    assert.deepEqual(byName.OUTPUT1.data, sub(a, b));
  });

  it('accepts nested data, a versioned path, any content type and an output selection', async () => {
    const a = range16(100);
    const b = range16(1);
    const request = {
      inputs: [
        { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: [a] },
        { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: [b] },
      ],
      outputs: [{ name: 'OUTPUT1' }],
      parameters: { anything: 'goes' },
    };
    const { status, body } = await server.post('/v2/models/simple/versions/1/infer', JSON.stringify(request), { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(status, 200);
    assert.equal(body.outputs.length, 1);
    assert.equal(body.outputs[0].name, 'OUTPUT1');
    assert.deepEqual(body.outputs[0].data, sub(a, b));
  });

  it('runs a client-side batch of 3 within max_batch_size', async () => {
    const rows = [range16(0), range16(10), range16(20)];
    const request = {
      inputs: [
        { name: 'INPUT0', shape: [3, 16], datatype: 'INT32', data: rows.flat() },
        { name: 'INPUT1', shape: [3, 16], datatype: 'INT32', data: rows.flat() },
      ],
    };
    const { status, body } = await server.post('/v2/models/simple/infer', request);
    assert.equal(status, 200);
    assert.deepEqual(body.outputs[0].shape, [3, 16]);
    assert.deepEqual(body.outputs[0].data, rows.flat().map((x) => 2 * x));
  });

  it('ocr_cls returns [N,2] probability rows that sum to 1', async () => {
    const n = 2;
    const [h, w] = [48, 192];
    const data = Array.from({ length: n * 3 * h * w }, (_, i) => Math.sin(i) * 0.5);
    const { status, body } = await server.post('/v2/models/ocr_cls/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [n, 3, h, w], data }] });
    assert.equal(status, 200);
    assert.deepEqual(body.outputs[0].shape, [n, 2]);
    for (let r = 0; r < n; r++) {
      const [p0, p1] = body.outputs[0].data.slice(r * 2, r * 2 + 2);
      assert.ok(p0 >= 0 && p1 >= 0);
      assert.ok(Math.abs(p0 + p1 - 1) < 1e-4, `row ${r} sums to ${p0 + p1}`);
    }
  });

  describe('errors: status code and message', () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      ['malformed JSON', '/v2/models/simple/infer', '{"inputs": [', 400, /JSON/],
      ['not an object', '/v2/models/simple/infer', '[1,2]', 400, /JSON object/],
      ['no inputs', '/v2/models/simple/infer', { inputs: [] }, 400, /"inputs" must be a non-empty array/],
      ['missing input', '/v2/models/simple/infer', { inputs: [simpleRequest(range16(), range16()).inputs[0]] }, 400, /expected 2 inputs but got 1 inputs for model 'simple'\. Got input\(s\) \['INPUT0'\], but missing required input\(s\) \['INPUT1'\]\. Please provide all required input\(s\)\./],
      ['unknown input', '/v2/models/simple/infer', { inputs: [...simpleRequest(range16(), range16()).inputs, { name: 'EXTRA', shape: [1], datatype: 'INT32', data: [1] }] }, 400, /unexpected inference input 'EXTRA' for model 'simple'/],
      ['wrong datatype', '/v2/models/simple/infer', { inputs: [{ ...simpleRequest(range16(), range16()).inputs[0], datatype: 'FP32' }, simpleRequest(range16(), range16()).inputs[1]] }, 400, /inference input 'INPUT0' data-type is 'FP32', but model 'simple' expects 'INT32'/],
      ['unknown datatype', '/v2/models/simple/infer', { inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'FLOAT', data: range16() }] }, 400, /unknown datatype "FLOAT"/],
      ['wrong shape', '/v2/models/simple/infer', { inputs: [{ name: 'INPUT0', shape: [1, 15], datatype: 'INT32', data: range16().slice(1) }, simpleRequest(range16(), range16()).inputs[1]] }, 400, /unexpected shape for input 'INPUT0' for model 'simple'\. Expected \[-1,16\], got \[1,15\]\. NOTE: Setting a non-zero max_batch_size/],
      ['data length mismatch', '/v2/models/simple/infer', { inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: range16().slice(2) }, simpleRequest(range16(), range16()).inputs[1]] }, 400, /INPUT0.*14 elements but the shape needs 16/],
      ['too much data', '/v2/models/simple/infer', { inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: [...range16(), 1] }, simpleRequest(range16(), range16()).inputs[1]] }, 400, /data has 17 elements but the shape needs 16/],
      ['value out of range', '/v2/models/simple/infer', simpleRequest([2 ** 31, ...range16().slice(1)], range16()), 400, /INPUT0.*element 0.*not a valid INT32/],
      ['batch too large', '/v2/models/simple/infer', { inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, shape: [9, 16], datatype: 'INT32', data: new Array(144).fill(1) })) }, 400, /inference request batch-size must be <= 8 for 'simple'/],
      ['overflowing shape', '/v2/models/simple/infer', { inputs: [{ name: 'INPUT0', shape: [2 ** 40, 2 ** 40], datatype: 'INT32', data: [] }] }, 413, /more than \d+ elements/],
      ['negative dim', '/v2/models/simple/infer', { inputs: [{ name: 'INPUT0', shape: [-1, 16], datatype: 'INT32', data: [] }] }, 400, /shape must be an array of non-negative integers/],
      ['unknown output', '/v2/models/simple/infer', simpleRequest(range16(), range16(), { outputs: [{ name: 'OUTPUT9' }] }), 400, /unexpected inference output 'OUTPUT9' for model 'simple'/],
      ['unknown model', '/v2/models/nope/infer', simpleRequest(range16(), range16()), 404, /Request for unknown model: 'nope' is not found/],
      ['unknown version', '/v2/models/simple/versions/3/infer', simpleRequest(range16(), range16()), 404, /Request for unknown model: 'simple' version 3 is not found/],
      ['version that is not a number', '/v2/models/simple/versions/wrong_specification/infer', simpleRequest(range16(), range16()), 400, /^failed to get model version from specified version string 'wrong_specification'/],
      ['unknown route', '/v2/nothing/here', {}, 404, /no route/],
    ];
    for (const [name, path, body, status, message] of cases) {
      it(name, async () => {
        const response = await server.post(path, body);
        assert.equal(response.status, status, JSON.stringify(response.body));
        assert.equal(typeof response.body.error, 'string');
        assert.match(response.body.error, message);
      });
    }

    it('keeps serving after all of them', async () => {
      const { status } = await server.post('/v2/models/simple/infer', simpleRequest(range16(), range16()));
      assert.equal(status, 200);
    });
  });
});

describe('request body limit', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(examples, { bodyLimit: 4096 }); });
  after(async () => { await server.close(); });

  it('refuses a body over the limit before parsing it, with Triton\'s status and words', async () => {
    const big = JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: new Array(5000).fill(1) }] });
    const response = await server.post('/v2/models/simple/infer', big);
    assert.equal(response.status, 400);
    assert.equal(response.body.error, `request JSON size of ${Buffer.byteLength(big)} bytes exceeds the maximum allowed input size of 4096 bytes. Use --http-body-limit to increase the limit.`);
  });
});
