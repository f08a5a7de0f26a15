/**
 * OIP JSON inputs are read strictly (issue 13, defects 12 and 13): the data length is checked
 * against the shape before anything is allocated, nesting must follow the shape, datatypes are
 * the wire names only, and typed extension parameters must have their type.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { jsonToTensorData } from '../../src/core/json-tensors.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { add, range16, simpleRequest } from '../helpers/simple.js';

describe('strict OIP JSON inputs', () => {
  let server: TestServer;
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await makeRepository({ simple: { versions: { 1: simpleModel() } } });
    server = await startTestServer(repo.root, { grpcPort: -1 });
  });
  after(async () => {
    await server.close();
    await repo.cleanup();
  });

  const infer = (body: unknown) => server.post('/v2/models/simple/infer', body);
  const a = range16();
  const b = range16(100);

  it('refuses a huge shape with little data by its length, without reserving the shape', () => {
    // Called directly: had it allocated first, 2^31-1 FP64 elements would be a 16 GiB array (a
    // RangeError or an out-of-memory here); the length check refuses it first.
    assert.throws(() => jsonToTensorData([1], 'FP64', 2147483647, 'input "X"', [1, 2147483647]), /data has 1 elements but the shape needs 2147483647/);
    assert.throws(() => jsonToTensorData(1, 'FP64', 2147483647, 'input "X"', [1, 2147483647]), /single value but the shape needs 2147483647/);
    assert.throws(() => jsonToTensorData([[1]], 'FP32', 2147483647, 'input "X"'), /data has 1 elements but the shape needs 2147483647/);
  });

  it('answers the issue\'s FP64 [1, 2147483647] request with 400', async () => {
    const res = await infer({ inputs: [{ name: 'INPUT0', datatype: 'FP64', shape: [1, 2147483647], data: [1] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b }] });
    assert.ok(res.status === 400 || res.status === 413, String(res.status));
    assert.deepEqual(Object.keys(res.body), ['error']);
  });

  it('accepts flat data and data nested exactly as the shape; refuses any other nesting', async () => {
    const nested = (values: number[]) => [values];
    const ok = await infer({ inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: nested(a) },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
    ] });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.outputs.find((o: any) => o.name === 'OUTPUT0').data, add(a, b));
    const wrong = [
      [a.slice(0, 8), a.slice(8)], // [2, 8] for shape [1, 16]: 16 values, wrong nesting
      [[a.slice(0, 8)], [a.slice(8)]],
      [[a]],
      [a.slice(0, 8), ...a.slice(8)], // ragged
    ];
    for (const data of wrong) {
      const res = await infer({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b }] });
      assert.equal(res.status, 400, JSON.stringify(data));
      assert.match(res.body.error, /does not follow the shape \[1,16\]/);
    }
  });

  it('refuses Triton config spellings (TYPE_INT32) on the wire', async () => {
    const res = await infer({ inputs: simpleRequest(a, b).inputs.map((i) => ({ ...i, datatype: 'TYPE_INT32' })) });
    assert.equal(res.status, 400);
    assert.match(res.body.error, /unknown datatype "TYPE_INT32".*"INT32"/);
  });

  it('refuses binary_data and binary_data_output that are not booleans', async () => {
    const own = await infer(simpleRequest(a, b, { outputs: [{ name: 'OUTPUT0', parameters: { binary_data: 'yes' } }] }));
    assert.equal(own.status, 400);
    assert.match(own.body.error, /"binary_data" must be true or false/);
    const all = await infer(simpleRequest(a, b, { parameters: { binary_data_output: 1 } }));
    assert.equal(all.status, 400);
    assert.match(all.body.error, /"binary_data_output" must be true or false/);
    const fine = await infer(simpleRequest(a, b, { outputs: [{ name: 'OUTPUT0', parameters: { binary_data: false } }] }));
    assert.equal(fine.status, 200);
  });
});
