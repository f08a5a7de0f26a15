/** vireo/client's HTTP client against a real server: health, metadata, JSON and binary inference, errors, keep-alive. */
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import { mlpModel, mlpReference, simpleModel } from '../../tools/modelgen/models.js';
import { HttpInferenceClient, InferenceClientError, outputStrings } from '../../src/client/index.js';
import { identityModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

describe('HttpInferenceClient', () => {
  let server: TestServer;
  let client: HttpInferenceClient;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      simple: { versions: { 1: simpleModel() }, config: { max_batch_size: 8 } },
      mlp: { versions: { 1: mlpModel([8, 16, 4], 7) } },
      id_bytes: { versions: { 1: identityModel('STRING') } },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
    client = new HttpInferenceClient(server.url, { connections: 4 });
  });
  after(async () => {
    await client.close();
    await server.close();
    await cleanup();
  });

  it('reports health and metadata', async () => {
    assert.equal(await client.serverLive(), true);
    assert.equal(await client.serverReady(), true);
    const meta = await client.serverMetadata();
    assert.equal(meta.name, 'vireo');
    assert.ok(meta.extensions.includes('binary_tensor_data'));
    assert.equal(await client.modelReady('simple'), true);
    assert.equal(await client.modelReady('simple', '1'), true);
    const model = await client.modelMetadata('simple');
    assert.deepEqual(model.inputs.map((i) => [i.name, i.datatype, i.shape]), [['INPUT0', 'INT32', [-1, 16]], ['INPUT1', 'INT32', [-1, 16]]]);
  });

  it('infers with typed arrays in and out, in JSON and binary, with an output selection', async () => {
    const a = Int32Array.from(range(32, (i) => i * 5 - 40));
    const b = Int32Array.from(range(32, (i) => 1000 - i * i));
    for (const binary of [true, false]) {
      const result = await client.infer('simple', [
        { name: 'INPUT0', datatype: 'INT32', shape: [2, 16], data: a },
        { name: 'INPUT1', datatype: 'INT32', shape: [2, 16], data: b },
      ], { binary, id: 'r1', outputs: ['OUTPUT1'] });
      assert.equal(result.modelName, 'simple');
      assert.equal(result.modelVersion, '1');
      assert.equal(result.id, 'r1');
      assert.deepEqual(result.outputs.map((o) => o.name), ['OUTPUT1']);
      const out = result.output('OUTPUT1');
      assert.ok(out.data instanceof Int32Array);
      assert.deepEqual(out.shape, [2, 16]);
      assert.deepEqual(Array.from(out.data), Array.from(a, (x, i) => x - b[i]!));
    }
  });

  it('matches a JS reference of the MLP through the binary path', async () => {
    const x = Float32Array.from(range(3 * 8, (i) => Math.sin(i)));
    const result = await client.infer('mlp', [{ name: 'INPUT', datatype: 'FP32', shape: [3, 8], data: x }]);
    const y = result.outputs[0]!.data as Float32Array;
    const expected = mlpReference([8, 16, 4], 7, x, 3);
    assert.equal(y.length, expected.length);
    y.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-5, `element ${i}: ${v} vs ${expected[i]}`));
  });

  it('sends BYTES as strings or Uint8Arrays and reads them back as text', async () => {
    const result = await client.infer('id_bytes', [{ name: 'INPUT', datatype: 'BYTES', shape: [1, 3], data: ['a', 'bé', ''] }]);
    assert.deepEqual(outputStrings(result.output('OUTPUT')), ['a', 'bé', '']);
    const json = await client.infer('id_bytes', [{ name: 'INPUT', datatype: 'BYTES', shape: [1, 2], data: [Buffer.from('x'), Buffer.from('yz')] }], { binary: false });
    assert.deepEqual(outputStrings(json.output('OUTPUT')), ['x', 'yz']);
  });

  it('throws InferenceClientError with the HTTP status and the server message', async () => {
    await assert.rejects(client.modelMetadata('nope'), (e: unknown) => e instanceof InferenceClientError && e.status === 404 && /Request for unknown model: 'nope' is not found/.test(e.message));
    await assert.rejects(
      client.infer('simple', [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Int32Array(16) }]),
      (e: unknown) => e instanceof InferenceClientError && e.status === 400 && /INPUT1/.test(e.message),
    );
    await assert.rejects(client.infer('simple', [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Float32Array(16) }]), /INT32 data must be a Int32Array/);
    await assert.rejects(client.infer('simple', [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Int32Array(15) }]), /15 elements for shape \[1,16\]/);
  });

  it('reuses one keep-alive connection for sequential requests', async () => {
    const fresh = new HttpInferenceClient(server.url, { connections: 1 });
    let connects = 0;
    const onConnect = () => { connects++; };
    diagnostics.subscribe('undici:client:connected', onConnect);
    try {
      for (let i = 0; i < 20; i++) {
        const a = Int32Array.from(range(16, (j) => i + j));
        const result = await fresh.infer('simple', [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: a },
        ]);
        assert.deepEqual(Array.from(result.output('OUTPUT0').data as Int32Array), Array.from(a, (x) => 2 * x));
      }
      assert.equal(connects, 1);
      assert.equal(fresh.openConnections, 1);
    } finally {
      diagnostics.unsubscribe('undici:client:connected', onConnect);
      await fresh.close();
    }
  });
});
