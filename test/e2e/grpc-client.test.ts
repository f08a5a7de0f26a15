/** Vireo's TypeScript gRPC client against a real server: typed arrays in and out, raw and typed, stream, errors. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GrpcInferenceClient, InferenceClientError, type InferInput } from '../../src/client/index.js';
import { identityModel, simpleModel } from '../../tools/modelgen/models.js';
import { grpc } from '../helpers/grpc.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { add, range16, sub } from '../helpers/simple.js';

const decode = (elements: unknown) => (elements as Uint8Array[]).map((e) => Buffer.from(e).toString('utf8'));

describe('GrpcInferenceClient', () => {
  let server: TestServer;
  let client: GrpcInferenceClient;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      simple: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } },
      identity_int64: { versions: { 1: identityModel('INT64') } },
      identity_fp16: { versions: { 1: identityModel('FLOAT16') } },
      identity_bytes: { versions: { 1: identityModel('STRING') } },
      identity_bool: { versions: { 1: identityModel('BOOL') } },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
    client = new GrpcInferenceClient(server.grpcTarget);
  });
  after(async () => {
    await client.close();
    await server.close();
    await cleanup();
  });

  const simpleInputs = (a: number[], b: number[]): InferInput[] => [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Int32Array.from(a) },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Int32Array.from(b) },
  ];

  it('health, metadata, index, config and statistics', async () => {
    assert.equal(await client.serverLive(), true);
    assert.equal(await client.serverReady(), true);
    assert.equal(await client.modelReady('simple'), true);
    assert.equal((await client.serverMetadata()).name, 'vireo');
    const m = await client.modelMetadata('simple');
    assert.deepEqual(m.inputs[0], { name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] });
    assert.deepEqual((await client.repositoryIndex()).map((e) => e.name), ['identity_bool', 'identity_bytes', 'identity_fp16', 'identity_int64', 'simple']);
    assert.equal((await client.modelConfig('simple')).max_batch_size, 8);
    assert.equal((await client.modelStatistics('simple'))[0]!.name, 'simple');
  });

  for (const contents of ['raw', 'typed'] as const) {
    it(`simple through ${contents} contents: Int32Array outputs with the sums and differences`, async () => {
      const a = range16(10);
      const b = range16(-20);
      const result = await client.infer('simple', simpleInputs(a, b), { contents, id: `c-${contents}` });
      assert.equal(result.id, `c-${contents}`);
      assert.equal(result.modelName, 'simple');
      assert.equal(result.modelVersion, '1');
      const out0 = result.output('OUTPUT0');
      assert.ok(out0.data instanceof Int32Array);
      assert.deepEqual(out0.shape, [1, 16]);
      assert.deepEqual([...(out0.data as Int32Array)], add(a, b));
      assert.deepEqual([...(result.output('OUTPUT1').data as Int32Array)], sub(a, b));
    });

    it(`INT64, BOOL and BYTES round trips through ${contents} contents`, async () => {
      const int64 = BigInt64Array.from([-(2n ** 63n), 2n ** 53n + 1n, 2n ** 63n - 1n]);
      const r1 = await client.infer('identity_int64', [{ name: 'INPUT', datatype: 'INT64', shape: [1, 3], data: int64 }], { contents });
      assert.deepEqual([...(r1.output('OUTPUT').data as BigInt64Array)], [...int64]);
      const bools = Uint8Array.from([1, 0, 1]);
      const r2 = await client.infer('identity_bool', [{ name: 'INPUT', datatype: 'BOOL', shape: [1, 3], data: bools }], { contents });
      assert.deepEqual([...(r2.output('OUTPUT').data as Uint8Array)], [1, 0, 1]);
      const r3 = await client.infer('identity_bytes', [{ name: 'INPUT', datatype: 'BYTES', shape: [1, 3], data: ['', 'héllo', 'x'.repeat(100)] }], { contents });
      assert.deepEqual(decode(r3.output('OUTPUT').data), ['', 'héllo', 'x'.repeat(100)]);
    });
  }

  it('FP16 bits in a Uint16Array go raw and come back unchanged; typed FP16 is refused client-side', async () => {
    const bits = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001]);
    const result = await client.infer('identity_fp16', [{ name: 'INPUT', datatype: 'FP16', shape: [1, 4], data: bits }]);
    assert.deepEqual([...(result.output('OUTPUT').data as Uint16Array)], [...bits]);
    await assert.rejects(client.infer('identity_fp16', [{ name: 'INPUT', datatype: 'FP16', shape: [1, 4], data: bits }], { contents: 'typed' }), /no typed contents field/);
  });

  it('follows the shared InferOptions: binary: false means typed contents, outputs as names or objects', async () => {
    const bits = Uint16Array.from([0x3c00, 0, 0, 0]);
    // FP16 has no typed field, so only a typed request fails this way: binary: false chose typed.
    await assert.rejects(client.infer('identity_fp16', [{ name: 'INPUT', datatype: 'FP16', shape: [1, 4], data: bits }], { binary: false }), /no typed contents field/);
    const a = range16(3);
    const result = await client.infer('simple', simpleInputs(a, a), { binary: false, outputs: [{ name: 'OUTPUT1' }] });
    assert.deepEqual(result.outputs.map((o) => o.name), ['OUTPUT1']);
    assert.deepEqual([...(result.output('OUTPUT1').data as Int32Array)], sub(a, a));
    const named = await client.infer('simple', simpleInputs(a, a), { outputs: ['OUTPUT0'] });
    assert.deepEqual(named.outputs.map((o) => o.name), ['OUTPUT0']);
  });

  it('checks element counts and array types before sending', async () => {
    await assert.rejects(client.infer('simple', [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Int32Array(15) }]), /15 elements for shape \[1,16\], which needs 16/);
    await assert.rejects(client.infer('simple', [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Float32Array(16) }]), /must be a Int32Array/);
  });

  it('server errors carry the gRPC status', async () => {
    const error = await client.infer('nope', simpleInputs(range16(), range16())).catch((e) => e);
    assert.ok(error instanceof InferenceClientError);
    assert.equal(error.protocol, 'grpc');
    assert.equal(error.status, grpc.status.NOT_FOUND);
    assert.match(error.message, /Request for unknown model: 'nope' is not found/);
    const bad = await client.infer('simple', [simpleInputs(range16(), range16())[0]!]).catch((e) => e);
    assert.equal(bad.status, grpc.status.INVALID_ARGUMENT);
  });

  it('a stream resolves each request with its own response; a bad one rejects alone', async () => {
    const stream = client.stream();
    const a = range16(1);
    const results = await Promise.allSettled([
      stream.infer('simple', simpleInputs(a, a), { id: 'one' }),
      stream.infer('nope', simpleInputs(a, a), { id: 'two' }),
      stream.infer('simple', simpleInputs(a, range16()), { id: 'three', contents: 'typed' }),
    ]);
    await stream.end();
    assert.equal(results[0].status, 'fulfilled');
    assert.equal((results[0] as PromiseFulfilledResult<any>).value.id, 'one');
    assert.deepEqual([...(results[0] as PromiseFulfilledResult<any>).value.output('OUTPUT0').data], add(a, a));
    assert.equal(results[1].status, 'rejected');
    assert.match((results[1] as PromiseRejectedResult).reason.message, /Request for unknown model: 'nope' is not found/);
    assert.equal((results[1] as PromiseRejectedResult).reason.status, grpc.status.UNKNOWN);
    assert.equal((results[2] as PromiseFulfilledResult<any>).value.id, 'three');
    assert.deepEqual([...(results[2] as PromiseFulfilledResult<any>).value.output('OUTPUT1').data], sub(a, range16()));
  });

  it('an aborted signal cancels the call', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await client.infer('simple', simpleInputs(range16(), range16()), { signal: controller.signal }).catch((e) => e);
    assert.equal(error.status, grpc.status.CANCELLED);
  });
});
