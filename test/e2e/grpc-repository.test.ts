/**
 * Triton's model repository RPCs over gRPC (RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload)
 * with a plain grpc-js client from Triton's proto: the same facade, rules and errors as the REST
 * extension (test/e2e/repository-api.test.ts), in gRPC status codes.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADD_CONFIG, addModel } from '../helpers/lifecycle.js';
import { assertStatus, grpc, tritonClient, type RpcClient } from '../helpers/grpc.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const x = [1, 2, 3, 4];
const plus = (k: number) => x.map((v) => v + k);
const config = (c: unknown = ADD_CONFIG) => ({ string_param: JSON.stringify(c) });
const file = (bytes: Uint8Array) => ({ bytes_param: Buffer.from(bytes) });
const inferRequest = (model: string) => ({ model_name: model, inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: x } }] });
const rows = (response: { models: any[] }) => response.models.map((m) => [m.name, m.version, m.state, m.reason]);

async function infer(client: RpcClient, model: string): Promise<number[]> {
  const response = await client.call('ModelInfer', inferRequest(model));
  return [...new Float32Array(new Uint8Array(response.raw_output_contents[0]).buffer)];
}

describe('gRPC repository RPCs (explicit mode)', () => {
  let server: TestServer;
  let client: RpcClient;
  let repo: { root: string; cleanup: () => Promise<void> };
  let outside: string;
  const load = (model_name: string, parameters: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
    client.call('RepositoryModelLoad', { model_name, parameters, ...extra });
  const unload = (model_name: string, parameters: Record<string, unknown> = {}) => client.call('RepositoryModelUnload', { model_name, parameters });
  const index = async (ready = false) => rows(await client.call('RepositoryIndex', { ready }));

  before(async () => {
    repo = await makeRepository({
      adder: { config: ADD_CONFIG, versions: { 1: addModel(1) } },
      broken: { versions: { 1: 'not an onnx model' } },
    });
    outside = await mkdtemp(join(tmpdir(), 'vireo-outside-'));
    await symlink(outside, join(repo.root, 'escape'));
    server = await startTestServer(repo.root, { modelControlMode: 'explicit' });
    client = tritonClient(server.grpcTarget);
  });
  after(async () => {
    client.close();
    await server.close();
    await repo.cleanup();
    await rm(outside, { recursive: true, force: true });
  });

  it('indexes every model directory, loaded or not; ready keeps READY ones', async () => {
    assert.deepEqual(await index(), [['adder', '', 'UNAVAILABLE', 'not loaded'], ['broken', '', 'UNAVAILABLE', 'not loaded'], ['escape', '', 'UNAVAILABLE', 'not loaded']]);
    assert.deepEqual(await index(true), []);
    await assertStatus(client.call('ModelInfer', inferRequest('adder')), grpc.status.NOT_FOUND);
  });

  it('loads, serves, unloads (inference then UNAVAILABLE) and reloads a model', async () => {
    assert.deepEqual(await load('adder'), {});
    assert.deepEqual(await index(true), [['adder', '1', 'READY', '']]);
    assert.deepEqual(await infer(client, 'adder'), plus(1));
    assert.deepEqual(await unload('adder', { unload_dependents: { bool_param: true } }), {});
    assert.deepEqual((await index()).filter((r) => r[0] === 'adder'), [['adder', '1', 'UNAVAILABLE', 'unloaded']]);
    await assertStatus(client.call('ModelInfer', inferRequest('adder')), grpc.status.UNAVAILABLE, /unloaded/);
    await load('adder');
    assert.deepEqual(await infer(client, 'adder'), plus(1));
  });

  it('loads uploaded files with a config override; the files land in the model directory', async () => {
    const bytes = addModel(5);
    await load('uploaded', { config: config(), 'file:1/model.onnx': file(bytes) });
    assert.ok(Buffer.from(bytes).equals(await readFile(join(repo.root, 'uploaded', '1', 'model.onnx'))));
    assert.deepEqual(await infer(client, 'uploaded'), plus(5));
    assert.deepEqual(await index(true), [['adder', '1', 'READY', ''], ['uploaded', '1', 'READY', '']]);
    // A config override alone reloads with it; ModelConfig shows its max_batch_size.
    await load('uploaded', { config: config({ ...ADD_CONFIG, max_batch_size: 2 }) });
    assert.equal((await client.call('ModelConfig', { name: 'uploaded' })).config.max_batch_size, 2);
    assert.deepEqual(await infer(client, 'uploaded'), plus(5));
    await unload('uploaded');
    assert.deepEqual((await index()).filter((r) => r[0] === 'uploaded'), [['uploaded', '1', 'UNAVAILABLE', 'unloaded']]);
  });

  it('a failed load is UNAVAILABLE with the reason', async () => {
    await assertStatus(load('broken'), grpc.status.UNAVAILABLE, /^failed to load 'broken', .*version 1 failed to load/);
    const [row] = (await index()).filter((r) => r[0] === 'broken');
    assert.equal(row![2], 'UNAVAILABLE');
    assert.ok(String(row![3]).length > 0);
    await unload('broken');
  });

  it('refuses traversal and symbolic-link escapes in uploaded paths with INVALID_ARGUMENT and writes nothing', async () => {
    const cases: [string, RegExp][] = [
      ['file:../evil.onnx', /not allowed|version/],
      ['file:/etc/evil.onnx', /absolute/],
      ['file:1/../../evil.onnx', /segments are refused/],
      ['file:1\\..\\evil.onnx', /backslash/],
      ['file:0/model.onnx', /positive integer/],
      ['file:1/.hidden', /starts with a dot/],
    ];
    for (const [key, message] of cases) {
      await assertStatus(load('uploaded', { config: config(), [key]: file(addModel(9)) }), grpc.status.INVALID_ARGUMENT, message);
    }
    await assertStatus(load('escape', { config: config(), 'file:1/model.onnx': file(addModel(9)) }), grpc.status.INVALID_ARGUMENT, /outside the repository/);
    assert.equal(existsSync(join(repo.root, '..', 'evil.onnx')), false);
    assert.equal(existsSync(join(repo.root, 'evil.onnx')), false);
    assert.deepEqual(await readdir(outside), []);
  });

  it('refuses bad names, parameters and configs with INVALID_ARGUMENT; unknown models are NOT_FOUND', async () => {
    const INVALID = grpc.status.INVALID_ARGUMENT;
    for (const name of ['..', 'a/b', '../etc', '.hidden', '']) {
      await assertStatus(load(name), INVALID, /invalid model name/);
      await assertStatus(unload(name), INVALID, /invalid model name/);
    }
    await assertStatus(load('adder', { 'file:1/model.onnx': file(addModel(9)) }), INVALID, /without a "config"/);
    await assertStatus(load('adder', { config: { bytes_param: Buffer.from(JSON.stringify(ADD_CONFIG)) } }), INVALID, /"config" parameter must be a string_param \(got bytes_param\)/);
    await assertStatus(load('adder', { config: config(), 'file:1/model.onnx': { string_param: 'AAAA' } }), INVALID, /must be a bytes_param \(got string_param\)/);
    await assertStatus(load('adder', { config: {} }), INVALID, /no value set/);
    await assertStatus(load('adder', { config: { string_param: '{nope' } }), INVALID, /^failed to load 'adder', .*not valid JSON/);
    await assertStatus(load('adder', { config: config({ ...ADD_CONFIG, max_batchsize: 3 }) }), INVALID, /max_batchsize: unknown key/);
    await assertStatus(load('adder', { config: config({ ...ADD_CONFIG, name: 'other' }) }), INVALID, /names model "other"/);
    await assertStatus(load('adder', { colour: { string_param: 'red' } }), INVALID, /unknown load parameter "colour"/);
    await assertStatus(unload('adder', { unload_dependents: { string_param: 'yes' } }), INVALID, /must be a bool_param/);
    await assertStatus(unload('adder', { cascade: { bool_param: true } }), INVALID, /unknown unload parameter\(s\): cascade/);
    await assertStatus(load('adder', {}, { repository_name: 'other' }), grpc.status.UNIMPLEMENTED, /single model repository/);
    await assertStatus(load('nothing_here'), grpc.status.NOT_FOUND, /^failed to load 'nothing_here', .*not in the repository/);
    // Triton unloads nothing and succeeds for a name it does not hold (unload-unindexed-model.test.ts).
    await unload('nothing_here');
    // The rejected calls changed nothing: adder still serves +1.
    assert.deepEqual(await infer(client, 'adder'), plus(1));
  });
});

describe('gRPC repository RPCs access', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => { repo = await makeRepository({ adder: { config: ADD_CONFIG, versions: { 1: addModel(1) } } }); });
  after(async () => { await repo.cleanup(); });

  it('refuses load and unload with PERMISSION_DENIED in none mode, as REST does; the index stays readable', async () => {
    const server = await startTestServer(repo.root);
    const client = tritonClient(server.grpcTarget);
    try {
      await assertStatus(client.call('RepositoryModelLoad', { model_name: 'adder' }), grpc.status.PERMISSION_DENIED, /disabled.*--model-control-mode/);
      await assertStatus(client.call('RepositoryModelUnload', { model_name: 'adder' }), grpc.status.PERMISSION_DENIED, /disabled.*--model-control-mode/);
      assert.equal((await server.post('/v2/repository/models/adder/unload', {})).status, 403, 'REST refuses it the same way');
      assert.deepEqual(rows(await client.call('RepositoryIndex', {})), [['adder', '1', 'READY', '']]);
      assert.deepEqual(await infer(client, 'adder'), plus(1), 'the model still serves');
    } finally {
      client.close();
      await server.close();
    }
  });

  it('with --control-token answers load, unload and settings changes to any peer carrying it in the authorization metadata, and no other', async (t) => {
    const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
    if (!external) t.diagnostic('no non-loopback IPv4 interface: only loopback peers tried');
    const hasIpv6Loopback = Object.values(networkInterfaces()).flat().some((i) => i?.address === '::1');
    // '::' listens on IPv6 and (dual stack) IPv4: IPv4 peers then show as ::ffff:a.b.c.d.
    const server = await startTestServer(repo.root, { modelControlMode: 'explicit', httpPort: -1, grpcAddress: hasIpv6Loopback ? '::' : '0.0.0.0', controlToken: 'grpc-token' });
    const port = server.grpcTarget.slice(server.grpcTarget.lastIndexOf(':') + 1);
    const targets = [`127.0.0.1:${port}`, ...(hasIpv6Loopback ? [`[::1]:${port}`] : []), ...(external ? [`${external.address}:${port}`] : [])];
    const bearer = (token: string) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${token}`);
      return metadata;
    };
    try {
      for (const target of targets) {
        const client = tritonClient(target);
        try {
          await assertStatus(client.call('RepositoryModelLoad', { model_name: 'adder' }), grpc.status.UNAUTHENTICATED, /needs a bearer token/);
          await assertStatus(new Promise((resolve, reject) => client.raw.RepositoryModelLoad({ model_name: 'adder' }, bearer('grpc-tokem'), (e: unknown, r: unknown) => (e ? reject(e) : resolve(r)))),
            grpc.status.UNAUTHENTICATED, /not the control token/);
          const call = (method: string, request: unknown) => new Promise((resolve, reject) => client.raw[method](request, bearer('grpc-token'), (e: unknown, r: unknown) => (e ? reject(e) : resolve(r))));
          assert.deepEqual(await call('RepositoryModelLoad', { model_name: 'adder' }), {}, target);
          assert.deepEqual(await infer(client, 'adder'), plus(1), 'inference needs no token');
          const logError = { settings: { log_error: { bool_param: false } } };
          await assertStatus(client.call('LogSettings', logError), grpc.status.UNAUTHENTICATED);
          assert.equal(((await call('LogSettings', logError)) as any).settings.log_error.bool_param, false);
          assert.deepEqual(await call('RepositoryModelUnload', { model_name: 'adder' }), {});
        } finally {
          client.close();
        }
      }
    } finally {
      await server.close();
    }
  });

  it('refuses to start gRPC on a non-loopback address in explicit mode without a token', async () => {
    await assert.rejects(startTestServer(repo.root, { modelControlMode: 'explicit', httpPort: -1, grpcAddress: '0.0.0.0' }), /refusing to start: --model-control-mode explicit on the non-loopback address 0\.0\.0\.0/);
  });
});
