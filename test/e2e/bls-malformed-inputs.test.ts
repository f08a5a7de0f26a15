/**
 * A handler model's call to another model (BLS) with a malformed input: the client that sent the
 * request gets the protocol's bad-request answer naming the input (REST 400, gRPC INVALID_ARGUMENT;
 * an unknown model 404 / NOT_FOUND), as a bad request from the client itself would, never a 500 /
 * INTERNAL. A real server over a temporary repository: the handler `bls_bad` calls the ONNX model
 * `simple` with the malformation its input CASE selects; case 0 is a well-formed call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { assertStatus, grpc, tritonClient, type RpcClient } from '../helpers/grpc.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const blsBad = `
let ctx;
export function initialize(context) { ctx = context; }
const ones = (n) => Array.from({ length: n }, () => 1);
const CALLS = {
  0: ['simple', { INPUT0: { datatype: 'INT32', shape: [1, 16], data: ones(16) }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  1: ['simple', { INPUT0: { shape: [1, 16], data: ones(16) }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  2: ['simple', { INPUT0: { datatype: 'INT32', shape: 16, data: ones(16) }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  3: ['simple', { INPUT0: { datatype: 'INT32', shape: [-1, 16], data: ones(16) }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  4: ['simple', { INPUT0: { datatype: 'INT32', shape: [1.5, 16], data: ones(16) }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  5: ['simple', { INPUT0: { datatype: 'INT32', shape: [1, 16], data: ones(15) }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  6: ['no_such_model', { INPUT0: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  7: ['simple', { INPUT0: { datatype: 'FLOAT99', shape: [1, 16], data: ones(16) }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  8: ['simple', { INPUT0: { datatype: 'INT32', shape: ['1', '16'], data: ones(16) }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  9: ['simple', { INPUT0: { datatype: 'INT32', shape: [1, 16], data: 'abc' }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  10: ['simple', { INPUT0: null, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  11: ['simple', { INPUT0: { datatype: 'INT32', shape: [1, 16], data: [...ones(15), 'x'] }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  12: ['simple', { INPUT0: { datatype: 'INT32', shape: [1, 16], data: new Float32Array(16) }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  13: [42, { INPUT0: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  14: ['simple', null],
  15: ['simple', { INPUT0: { datatype: 'INT64', shape: [1, 16], data: [...ones(15), NaN] }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }],
  16: ['simple', { INPUT0: { datatype: 'INT32', shape: [1, 16], data: ones(16) }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }, { outputs: 'OUTPUT0' }],
  17: ['simple', { INPUT0: { datatype: 'INT32', shape: [1, 16], data: ones(16) }, INPUT1: { datatype: 'INT32', shape: [1, 16], data: ones(16) } }, { outputs: ['NO_SUCH_OUTPUT'] }],
};
export async function execute(requests) {
  return Promise.all(requests.map(async (request) => {
    const [model, inputs, options = { outputs: ['OUTPUT0'] }] = CALLS[request.inputs.CASE.data[0]];
    const out = await ctx.infer(model, inputs, options);
    return { outputs: { SUM: { data: Int32Array.from(out.OUTPUT0.data) } } };
  }));
}
`;

/** Case → the REST status, the gRPC status and what the message must say (the input's name, the fault). */
const CASES: [number, string, number, grpc.status, RegExp][] = [
  [1, 'an input without a datatype', 400, grpc.status.INVALID_ARGUMENT, /input "INPUT0" for model "simple".*datatype/],
  [2, 'a shape that is not an array', 400, grpc.status.INVALID_ARGUMENT, /input "INPUT0" for model "simple".*shape/],
  [3, 'a negative dimension', 400, grpc.status.INVALID_ARGUMENT, /input "INPUT0" for model "simple".*-1/],
  [4, 'a fractional dimension', 400, grpc.status.INVALID_ARGUMENT, /input "INPUT0" for model "simple".*1\.5/],
  [5, 'data shorter than its shape', 400, grpc.status.INVALID_ARGUMENT, /input "INPUT0" for model "simple".*15 elements/],
  [6, 'an unknown model', 404, grpc.status.NOT_FOUND, /no_such_model/],
  [7, 'an unknown datatype', 400, grpc.status.INVALID_ARGUMENT, /input "INPUT0" for model "simple".*FLOAT99/],
  [8, 'dimensions that are strings', 400, grpc.status.INVALID_ARGUMENT, /input "INPUT0" for model "simple".*shape/],
  [9, 'data that is not an array', 400, grpc.status.INVALID_ARGUMENT, /input "INPUT0" for model "simple".*data/],
  [10, 'an input that is not a tensor', 400, grpc.status.INVALID_ARGUMENT, /input "INPUT0" for model "simple"/],
  [11, 'an element that is not a number', 400, grpc.status.INVALID_ARGUMENT, /input "INPUT0" for model "simple".*element 15/],
  [12, 'a typed array of another datatype', 400, grpc.status.INVALID_ARGUMENT, /input "INPUT0" for model "simple".*Float32Array/],
  [13, 'a model name that is not a string', 400, grpc.status.INVALID_ARGUMENT, /model's name as a string/],
  [14, 'inputs that are not an object', 400, grpc.status.INVALID_ARGUMENT, /inputs for model "simple" must be an object/],
  [15, 'an INT64 element that is not a number', 400, grpc.status.INVALID_ARGUMENT, /input "INPUT0" for model "simple".*element 15 is not an integer/],
  [16, 'outputs that are not an array of names', 400, grpc.status.INVALID_ARGUMENT, /outputs wanted from model "simple" must be an array of names/],
  [17, 'an unknown output', 400, grpc.status.INVALID_ARGUMENT, /NO_SUCH_OUTPUT/],
];

describe('a BLS call with a malformed input', () => {
  let server: TestServer;
  let client: RpcClient;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      simple: { versions: { 1: simpleModel() } },
      bls_bad: {
        config: {
          backend: 'typescript',
          max_batch_size: 0,
          input: [{ name: 'CASE', data_type: 'TYPE_INT32', dims: [1] }],
          output: [{ name: 'SUM', data_type: 'TYPE_INT32', dims: [16] }],
        },
        versions: { 1: blsBad },
        filename: 'model.js',
      },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { strictReadiness: false });
    client = tritonClient(server.grpcTarget);
  });

  after(async () => {
    client.close();
    await server.close();
    await cleanup();
  });

  const rest = (c: number) => server.post('/v2/models/bls_bad/infer', { inputs: [{ name: 'CASE', datatype: 'INT32', shape: [1], data: [c] }] });
  const rpc = (c: number) => client.call('ModelInfer', {
    model_name: 'bls_bad',
    inputs: [{ name: 'CASE', datatype: 'INT32', shape: [1], contents: { int_contents: [c] } }],
  });

  it('answers a well-formed call (the control case): simple adds 1 and 1', async () => {
    const answer = await rest(0);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.outputs[0].data, Array.from({ length: 16 }, () => 2));
  });

  for (const [c, what, status, code, pattern] of CASES) {
    it(`${what}: REST ${status} naming it`, async () => {
      const answer = await rest(c);
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.match(answer.body.error, pattern);
    });
    it(`${what}: gRPC ${grpc.status[code]} naming it`, async () => {
      await assertStatus(rpc(c), code, pattern);
    });
  }

  it('still serves after every malformed call', async () => {
    const answer = await rest(0);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  });
});
