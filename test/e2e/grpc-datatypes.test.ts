/**
 * Every datatype ONNX Runtime serves, through an identity model per datatype, over gRPC typed
 * contents, raw contents and the bidirectional stream: each path must give back exactly the input.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { identityModel } from '../../tools/modelgen/models.js';
import { DATATYPE_CASES, type DatatypeCase } from '../helpers/grpc-datatypes.js';
import { assertStatus, grpc, serveWithGrpcClient, streamInfer, type RpcClient } from '../helpers/grpc.js';
import type { TestServer } from '../helpers/server.js';

const SHAPE = [2, 3];
const modelName = (c: DatatypeCase) => `identity_${c.datatype.toLowerCase()}`;

function request(c: DatatypeCase, form: 'typed' | 'raw', id: string) {
  const input = { name: 'INPUT', datatype: c.datatype, shape: SHAPE, ...(form === 'typed' ? { contents: { [c.field!]: c.typed!() } } : {}) };
  return { model_name: modelName(c), id, inputs: [input], ...(form === 'raw' ? { raw_input_contents: [c.raw()] } : {}) };
}

/** Checks one ModelInferResponse: metadata, the form it answered in, and the values. */
function assertIdentity(c: DatatypeCase, response: any, form: 'typed' | 'raw', id: string): void {
  assert.equal(response.model_name, modelName(c));
  assert.equal(response.model_version, '1');
  assert.equal(response.id, id);
  assert.equal(response.outputs.length, 1);
  const [output] = response.outputs;
  assert.equal(output.name, 'OUTPUT');
  assert.equal(output.datatype, c.datatype);
  assert.deepEqual(output.shape.map(Number), SHAPE);
  // Triton answers in raw_output_contents whichever form the request used (`form`).
  void form;
  assert.equal(response.raw_output_contents.length, 1);
  assert.equal(output.contents, null);
  assert.deepEqual(c.fromRaw(response.raw_output_contents[0]), c.values);
}

describe('gRPC: identical outputs for every datatype through typed, raw and stream', () => {
  let server: TestServer;
  let client: RpcClient;
  let close: () => Promise<void>;

  before(async () => {
    ({ server, client, close } = await serveWithGrpcClient(Object.fromEntries(DATATYPE_CASES.map((c) => [modelName(c), { versions: { 1: identityModel(c.elem) } }]))));
  });
  after(() => close());

  it('every identity model loaded', async () => {
    const index = await client.call('RepositoryIndex', { ready: true });
    assert.deepEqual(index.models.map((m: any) => m.name).sort(), DATATYPE_CASES.map(modelName).sort());
  });

  for (const c of DATATYPE_CASES) {
    it(`${c.datatype}: raw contents in, raw contents out`, async () => {
      assertIdentity(c, await client.call('ModelInfer', request(c, 'raw', `raw-${c.datatype}`)), 'raw', `raw-${c.datatype}`);
    });

    if (c.field) {
      it(`${c.datatype}: typed ${c.field} in, typed out`, async () => {
        assertIdentity(c, await client.call('ModelInfer', request(c, 'typed', `typed-${c.datatype}`)), 'typed', `typed-${c.datatype}`);
      });
    } else {
      it(`${c.datatype}: has no typed field, so typed contents are INVALID_ARGUMENT and the answer says to use raw`, async () => {
        const bad = { model_name: modelName(c), inputs: [{ name: 'INPUT', datatype: c.datatype, shape: SHAPE, contents: { fp32_contents: [1, 2, 3, 4, 5, 6] } }] };
        await assertStatus(client.call('ModelInfer', bad), grpc.status.INVALID_ARGUMENT, /raw_input_contents/);
      });
    }

    it(`${c.datatype}: the stream answers raw and typed requests, in order, each in its own form`, async () => {
      const forms: ('typed' | 'raw')[] = c.field ? ['raw', 'typed', 'raw'] : ['raw', 'raw'];
      const responses = await streamInfer(client, forms.map((f, i) => request(c, f, `s${i}`)));
      assert.equal(responses.length, forms.length);
      responses.forEach((r, i) => {
        assert.equal(r.error_message, '');
        assertIdentity(c, r.infer_response, forms[i]!, `s${i}`);
      });
    });
  }
});
