/** Every datatype round-trips through OIP REST JSON (identity models generated per type). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { identityModel } from '../../tools/modelgen/models.js';
import type { ElemType } from '../../tools/modelgen/onnx-graph.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** OIP datatype → ONNX element type, and values that exercise each type's range. */
const CASES: [string, ElemType, unknown[], unknown[]?][] = [
  ['BOOL', 'BOOL', [true, false, true, true]],
  ['UINT8', 'UINT8', [0, 1, 128, 255]],
  ['UINT16', 'UINT16', [0, 1, 40000, 65535]],
  ['UINT32', 'UINT32', [0, 1, 3000000000, 4294967295]],
  ['UINT64', 'UINT64', [0, 1, 2 ** 40, Number.MAX_SAFE_INTEGER]],
  ['INT8', 'INT8', [-128, -1, 0, 127]],
  ['INT16', 'INT16', [-32768, -1, 0, 32767]],
  ['INT32', 'INT32', [-2147483648, -1, 0, 2147483647]],
  ['INT64', 'INT64', [-(2 ** 40), -1, 0, Number.MAX_SAFE_INTEGER], undefined],
  // FP16: values exactly representable in half precision, and a rounding case (0.1 → 0.0999755859375)
  ['FP16', 'FLOAT16', [0.5, -2, 65504, 0.1], [0.5, -2, 65504, 0.0999755859375]],
  ['FP32', 'FLOAT', [1.5, -0.25, 3.4e38, 0], [1.5, -0.25, Math.fround(3.4e38), 0]],
  ['FP64', 'DOUBLE', [Math.PI, -1e300, 5e-324, 0]],
  ['BYTES', 'STRING', ['hello', '', 'ünïcödé', 'a b c']],
];

describe('every datatype round-trips through JSON', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  before(async () => {
    const models = Object.fromEntries(CASES.map(([dt, elem]) => [`id_${dt.toLowerCase()}`, { versions: { 1: identityModel(elem) } }]));
    const repo = await makeRepository(models);
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  for (const [datatype, , data, expected] of CASES) {
    it(datatype, async () => {
      const model = `id_${datatype.toLowerCase()}`;
      const meta = (await server.get(`/v2/models/${model}`)).body;
      assert.deepEqual(meta.inputs, [{ name: 'INPUT', datatype, shape: [-1, -1] }]);
      const { status, body } = await server.post(`/v2/models/${model}/infer`, { inputs: [{ name: 'INPUT', datatype, shape: [2, 2], data }] });
      assert.equal(status, 200, JSON.stringify(body));
      assert.deepEqual(body.outputs[0], { name: 'OUTPUT', datatype, shape: [2, 2], data: expected ?? data });
    });
  }

  it('a finite number beyond the range of FP32 or FP16 is 400 naming the element, not an infinity', async () => {
    for (const [datatype, value] of [['FP32', 1e39], ['FP32', -3.5e38], ['FP16', 70000]] as const) {
      const res = await server.post(`/v2/models/id_${datatype.toLowerCase()}/infer`, { inputs: [{ name: 'INPUT', datatype, shape: [1, 2], data: [1, value] }] });
      assert.equal(res.status, 400, `${datatype} ${value}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error, new RegExp(`input "INPUT": element 1 \\(${String(value).replace('+', '\\+')}\\) is beyond the range of ${datatype}`));
    }
  });

  it('64-bit integers beyond 2^53 are accepted as strings', async () => {
    const { status } = await server.post('/v2/models/id_int64/infer', { inputs: [{ name: 'INPUT', datatype: 'INT64', shape: [1, 1], data: ['9223372036854775807'] }] });
    assert.equal(status, 200);
    const bad = await server.post('/v2/models/id_int64/infer', { inputs: [{ name: 'INPUT', datatype: 'INT64', shape: [1, 1], data: ['9223372036854775808'] }] });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /not a valid INT64 value/);
  });

  it('wrong value kinds are 400 naming the element', async () => {
    const bool = await server.post('/v2/models/id_bool/infer', { inputs: [{ name: 'INPUT', datatype: 'BOOL', shape: [1, 2], data: [true, 'yes'] }] });
    assert.equal(bool.status, 400);
    assert.match(bool.body.error, /element 1 \("yes"\) is not a valid BOOL value/);
    const bytes = await server.post('/v2/models/id_bytes/infer', { inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1, 1], data: [5] }] });
    assert.equal(bytes.status, 400);
    const uint = await server.post('/v2/models/id_uint8/infer', { inputs: [{ name: 'INPUT', datatype: 'UINT8', shape: [1, 1], data: [256] }] });
    assert.equal(uint.status, 400);
    const frac = await server.post('/v2/models/id_int32/infer', { inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [1.5] }] });
    assert.equal(frac.status, 400);
  });
});
