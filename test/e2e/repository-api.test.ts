/** The model repository extension over REST in explicit mode: index, load, unload and every rejection. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ADD_CONFIG, addModel, addRequest, base64 } from '../helpers/lifecycle.js';

const x = [1, 2, 3, 4];

/** A POST with the path sent byte for byte (fetch would normalise `%2E%2E` away before sending). */
function rawPost(base: string, path: string, body = '{}'): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const req = httpRequest({ hostname, port, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk) => { text += chunk; }).on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject).end(body);
  });
}
const plus = (k: number) => x.map((v) => v + k);

describe('repository API (explicit mode)', () => {
  let server: TestServer;
  let repo: { root: string; cleanup: () => Promise<void> };
  let outside: string;

  before(async () => {
    repo = await makeRepository({
      simple: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } },
      adder: { config: ADD_CONFIG, versions: { 1: addModel(1) } },
      broken: { versions: { 1: 'not an onnx model' } },
    });
    outside = await mkdtemp(join(tmpdir(), 'vireo-outside-'));
    await symlink(outside, join(repo.root, 'escape'));
    server = await startTestServer(repo.root, { modelControlMode: 'explicit', loadModels: ['simple'] });
  });
  after(async () => {
    await server.close();
    await repo.cleanup();
    await rm(outside, { recursive: true, force: true });
  });

  const load = (model: string, body?: unknown) => server.post(`/v2/repository/models/${model}/load`, body ?? '');
  const unload = (model: string, body?: unknown) => server.post(`/v2/repository/models/${model}/unload`, body ?? '');
  const index = async (body: unknown = {}) => (await server.post('/v2/repository/index', body)).body as any[];
  const row = async (model: string) => (await index()).filter((e) => e.name === model);

  it('reports the extension and loads only --load-model at start', async () => {
    assert.ok((await server.get('/v2')).body.extensions.includes('model_repository'));
    assert.deepEqual(await index(), [
      { name: 'adder', state: 'UNAVAILABLE', reason: 'not loaded' },
      { name: 'broken', state: 'UNAVAILABLE', reason: 'not loaded' },
      { name: 'escape', state: 'UNAVAILABLE', reason: 'not loaded' },
      { name: 'simple', version: '1', state: 'READY', reason: '' },
    ]);
    assert.deepEqual(await index({ ready: true }), [{ name: 'simple', version: '1', state: 'READY', reason: '' }]);
    assert.equal((await server.post('/v2/repository/index', '')).status, 200);
    assert.equal((await server.get('/v2/health/ready')).status, 200);
    assert.equal((await server.post('/v2/models/adder/infer', addRequest(x))).status, 404);
  });

  it('loads, serves, unloads (requests then get 503) and reloads a model', async () => {
    assert.equal((await load('adder')).status, 200);
    assert.deepEqual(await row('adder'), [{ name: 'adder', version: '1', state: 'READY', reason: '' }]);
    assert.deepEqual((await server.post('/v2/models/adder/infer', addRequest(x))).body.outputs[0].data, plus(1));
    assert.equal((await unload('adder', { parameters: { unload_dependents: true } })).status, 200);
    assert.deepEqual(await row('adder'), [{ name: 'adder', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    const refused = await server.post('/v2/models/adder/infer', addRequest(x));
    assert.equal(refused.status, 503);
    assert.match(refused.body.error, /unloaded/);
    assert.equal((await server.get('/v2/health/ready')).status, 200, 'an unloaded model does not make the server unready');
    assert.equal((await load('adder', {})).status, 200);
    assert.deepEqual((await server.post('/v2/models/adder/infer', addRequest(x))).body.outputs[0].data, plus(1));
  });

  it('a failed load answers with the reason; the model is UNAVAILABLE until unloaded', async () => {
    const failed = await load('broken');
    assert.equal(failed.status, 503);
    assert.match(failed.body.error, /^failed to load 'broken', .*version 1 failed to load/);
    const [entry] = await row('broken');
    assert.equal(entry.state, 'UNAVAILABLE');
    assert.ok(entry.reason.length > 0);
    assert.equal((await server.get('/v2/health/ready')).status, 503, 'strict readiness: a model meant to be served failed');
    assert.equal((await unload('broken')).status, 200);
    assert.equal((await server.get('/v2/health/ready')).status, 200);
  });

  it('loads uploaded files with a config override; the files land in the model directory', async () => {
    const bytes = addModel(5);
    const response = await load('uploaded', { parameters: { config: JSON.stringify(ADD_CONFIG), 'file:1/model.onnx': base64(bytes) } });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.ok(Buffer.from(bytes).equals(await readFile(join(repo.root, 'uploaded', '1', 'model.onnx'))));
    assert.deepEqual((await server.post('/v2/models/uploaded/infer', addRequest(x))).body.outputs[0].data, plus(5));
    // A config override alone reloads with it: max_batch_size 2 is what the config endpoint shows.
    const override = await load('uploaded', { parameters: { config: JSON.stringify({ ...ADD_CONFIG, max_batch_size: 2 }) } });
    assert.equal(override.status, 200);
    assert.equal((await server.get('/v2/models/uploaded/config')).body.max_batch_size, 2);
    // A failed load with an override leaves the serving one; a load without config goes back to
    // the directory, which has no config file: auto-complete gives the default max_batch_size 4.
    const failing = await load('uploaded', { parameters: { config: JSON.stringify({ ...ADD_CONFIG, max_batch_size: 3, input: [{ name: 'WRONG', data_type: 'TYPE_FP32', dims: [4] }] }) } });
    assert.equal(failing.status, 400);
    assert.equal((await server.get('/v2/models/uploaded/config')).body.max_batch_size, 2);
    assert.equal((await load('uploaded')).status, 200);
    assert.equal((await server.get('/v2/models/uploaded/config')).body.max_batch_size, 4);
  });

  it('an upload queued behind a load of the same missing model serves it: the first load\'s NOT_FOUND does not orphan the second', async () => {
    // The plain load finds no folder and fails with NOT_FOUND; the upload, queued behind it on the same
    // model, makes the folder and loads. It used to load into a model the repository had already dropped:
    // 200, yet the model unknown (404) and its instance running where no request or unload reached it.
    // (The facade queues the two in call order; two HTTP requests could arrive in either.)
    const [missing, uploaded] = await Promise.allSettled([
      server.server.loadModel('late'),
      server.server.loadModel('late', { config: JSON.stringify(ADD_CONFIG), files: { '1/model.onnx': addModel(9) } }),
    ]);
    assert.equal(missing.status === 'rejected' && missing.reason.code, 'VIREO_ERR_MODEL_NOT_FOUND');
    assert.equal(uploaded.status, 'fulfilled', String((uploaded as PromiseRejectedResult).reason));
    assert.deepEqual((await server.post('/v2/models/late/infer', addRequest(x))).body.outputs?.[0].data, plus(9));
    assert.equal((await unload('late')).status, 200);
    assert.equal((await server.get('/v2/models/late/ready')).body.ready, false);
  });

  it('a load of uploaded files that fails leaves the repository as it was: replaced files back, new ones and their folders gone', async () => {
    const before = await readFile(join(repo.root, 'adder', '1', 'model.onnx'));
    assert.equal((await load('adder')).status, 200);
    // Version 3 (the one the policy serves) cannot load; version 1's file is replaced on the way.
    const failed = await load('adder', { parameters: { config: JSON.stringify(ADD_CONFIG), 'file:1/model.onnx': base64(addModel(7)), 'file:3/model.onnx': base64(new Uint8Array([1, 2, 3])) } });
    assert.equal(failed.status, 503, JSON.stringify(failed.body));
    assert.ok(before.equals(await readFile(join(repo.root, 'adder', '1', 'model.onnx'))), 'the replaced file is back');
    assert.equal(existsSync(join(repo.root, 'adder', '3')), false, 'the folder made for the upload is gone');
    assert.deepEqual((await readdir(join(repo.root, 'adder', '1'))).sort(), ['model.onnx'], 'no copies or temporary files left');
    // The version loaded before still serves, and a plain reload reads the original file again.
    assert.deepEqual((await server.post('/v2/models/adder/infer', addRequest(x))).body.outputs[0].data, plus(1));
    assert.equal((await load('adder')).status, 200);
    assert.deepEqual((await server.post('/v2/models/adder/infer', addRequest(x))).body.outputs[0].data, plus(1));
    // A new model whose upload does not load leaves no folder behind.
    const fresh = await load('newcomer', { parameters: { config: JSON.stringify(ADD_CONFIG), 'file:1/model.onnx': base64(new Uint8Array([9])) } });
    assert.equal(fresh.status, 503);
    assert.equal(existsSync(join(repo.root, 'newcomer')), false);
  });

  it('refuses bad upload paths with 400 and writes nothing', async () => {
    const config = JSON.stringify(ADD_CONFIG);
    const cases: [string, RegExp][] = [
      ['file:../evil.onnx', /not allowed|version/],
      ['file:/etc/evil.onnx', /absolute/],
      ['file:1/../../evil.onnx', /segments are refused/],
      ['file:1\\..\\evil.onnx', /backslash/],
      ['file:0/model.onnx', /positive integer/],
      ['file:1', /<version>\/<file>/],
      ['file:1/.hidden', /starts with a dot/],
    ];
    for (const [key, message] of cases) {
      const response = await load('uploaded', { parameters: { config, [key]: base64(addModel(9)) } });
      assert.equal(response.status, 400, key);
      assert.match(response.body.error, message, key);
    }
    assert.equal(existsSync(join(repo.root, '..', 'evil.onnx')), false);
    assert.equal(existsSync(join(repo.root, 'evil.onnx')), false);
  });

  it('refuses uploads that would escape through a symbolic link', async () => {
    const config = JSON.stringify(ADD_CONFIG);
    const viaModelDir = await load('escape', { parameters: { config, 'file:1/model.onnx': base64(addModel(9)) } });
    assert.equal(viaModelDir.status, 400);
    assert.match(viaModelDir.body.error, /outside the repository/);
    await symlink(outside, join(repo.root, 'uploaded', '7'));
    const viaVersionDir = await load('uploaded', { parameters: { config, 'file:7/model.onnx': base64(addModel(9)) } });
    assert.equal(viaVersionDir.status, 400);
    assert.match(viaVersionDir.body.error, /symbolic link/);
    await mkdir(join(repo.root, 'uploaded', '8'));
    await symlink(join(outside, 'target.onnx'), join(repo.root, 'uploaded', '8', 'model.onnx'));
    const viaFile = await load('uploaded', { parameters: { config, 'file:8/model.onnx': base64(addModel(9)) } });
    assert.equal(viaFile.status, 400);
    assert.match(viaFile.body.error, /symbolic link/);
    assert.deepEqual(await readdir(outside), []);
  });

  it('refuses bad model names, parameters, configs and bodies with 400 and an error', async () => {
    const config = JSON.stringify(ADD_CONFIG);
    const expect400 = async (response: { status: number; body: any }, message: RegExp) => {
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.match(response.body.error, message);
    };
    await expect400(await rawPost(server.url, '/v2/repository/models/%2E%2E/load'), /invalid model name "\.\."/);
    await expect400(await rawPost(server.url, '/v2/repository/models/%2E%2E/unload'), /invalid model name "\.\."/);
    await expect400(await load('a%2Fb', {}), /invalid model name "a\/b"/);
    await expect400(await load('a%2F..%2F..%2Fetc', {}), /invalid model name/);
    await expect400(await load('.hidden', {}), /invalid model name/);
    await expect400(await load('adder', { parameters: { 'file:1/model.onnx': base64(addModel(9)) } }), /without a "config"/);
    await expect400(await load('adder', { parameters: { config, 'file:1/model.onnx': 'not base64!' } }), /base64/);
    // Triton's words first: its model-control examples look for "failed to load" in the message.
    await expect400(await load('adder', { parameters: { config: '{nope' } }), /^failed to load 'adder', .*not valid JSON/);
    // The malformed override simple_http_model_control.py sends on purpose.
    await expect400(await load('adder', { parameters: { config: '"parameters": {"config": {{"max_batch_size": "16"}}}' } }), /^failed to load 'adder', /);
    await expect400(await load('adder', { parameters: { config: JSON.stringify({ ...ADD_CONFIG, max_batchsize: 3 }) } }), /max_batchsize: unknown key/);
    await expect400(await load('adder', { parameters: { config: JSON.stringify({ ...ADD_CONFIG, name: 'other' }) } }), /names model "other"/);
    await expect400(await load('adder', { parameters: { colour: 'red' } }), /unknown load parameter "colour"/);
    await expect400(await load('adder', '{"parameters": '), /not valid JSON/);
    await expect400(await unload('adder', { parameters: { unload_dependents: 'yes' } }), /must be a boolean/);
    await expect400(await server.post('/v2/repository/index', { ready: 'yes' }), /must be a boolean/);
    const missing = await load('nothing_here');
    assert.equal(missing.status, 404);
    assert.match(missing.body.error, /^failed to load 'nothing_here', .*not in the repository/);
    // Triton unloads nothing and succeeds for a name it does not hold (unload-unindexed-model.test.ts).
    const unknownUnload = await unload('nothing_here');
    assert.equal(unknownUnload.status, 200);
    // The rejected loads changed nothing: adder still serves version 1 with +1.
    assert.deepEqual((await server.post('/v2/models/adder/infer', addRequest(x))).body.outputs[0].data, plus(1));
  });
});

describe('repository API access', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => { repo = await makeRepository({ adder: { config: ADD_CONFIG, versions: { 1: addModel(1) } } }); });
  after(async () => { await repo.cleanup(); });

  it('load and unload are refused with 403 in none mode, and not advertised; the read-only index answers', async () => {
    const server = await startTestServer(repo.root);
    try {
      assert.equal((await server.get('/v2')).body.extensions.includes('model_repository'), false);
      const index = await server.post('/v2/repository/index', {});
      assert.equal(index.status, 200);
      assert.deepEqual(index.body, [{ name: 'adder', version: '1', state: 'READY', reason: '' }]);
      for (const path of ['/v2/repository/models/adder/load', '/v2/repository/models/adder/unload']) {
        const response = await server.post(path, {});
        assert.equal(response.status, 403, path);
        assert.match(response.body.error, /disabled.*--model-control-mode/);
      }
      assert.equal((await server.post('/v2/models/adder/infer', addRequest(x))).status, 200, 'the model still serves');
    } finally {
      await server.close();
    }
  });

  it('refuses to start on a non-loopback address without a control token', async () => {
    for (const overrides of [{ modelControlMode: 'explicit' as const }, { modelControlMode: 'none' as const, allowRemoteControl: true }]) {
      await assert.rejects(startTestServer(repo.root, { ...overrides, httpAddress: '0.0.0.0', grpcPort: -1 }),
        /refusing to start: .* on the non-loopback address 0\.0\.0\.0 needs --control-token/);
    }
  });

  it('with --control-token answers every peer that carries it, loopback included, and no other', async (t) => {
    const { networkInterfaces } = await import('node:os');
    const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
    const server = await startTestServer(repo.root, { modelControlMode: 'explicit', httpAddress: '0.0.0.0', grpcPort: -1, controlToken: 's3cret-token' });
    try {
      const port = new URL(server.url).port;
      const hosts = external ? [external.address, '127.0.0.1'] : ['127.0.0.1'];
      if (!external) t.diagnostic('no non-loopback IPv4 interface: only loopback peers tried');
      for (const host of hosts) {
        const index = (headers: Record<string, string>) => fetch(`http://${host}:${port}/v2/repository/index`, { method: 'POST', headers });
        const none = await index({});
        assert.equal(none.status, 401, host);
        assert.equal(none.headers.get('www-authenticate'), 'Bearer');
        assert.match(((await none.json()) as any).error, /needs a bearer token/);
        const wrong = await index({ authorization: 'Bearer s3cret-tokem' });
        assert.equal(wrong.status, 401);
        assert.doesNotMatch(await wrong.text(), /s3cret/, 'the token is never echoed');
        const right = await index({ authorization: 'Bearer s3cret-token' });
        assert.equal(right.status, 200, host);
        assert.deepEqual(await right.json(), [{ name: 'adder', state: 'UNAVAILABLE', reason: 'not loaded' }]);
        const load = await fetch(`http://${host}:${port}/v2/repository/models/adder/load`, { method: 'POST' });
        assert.equal(load.status, 401);
      }
    } finally {
      await server.close();
    }
  });
});
