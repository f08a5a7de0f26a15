/** Poll mode: the repository is rescanned and new, changed and removed versions and models follow. */
import assert from 'node:assert/strict';
import { mkdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ADD_CONFIG, addModel, addRequest, waitFor } from '../helpers/lifecycle.js';

const x = [10, 20, 30, 40];

/** Writes a file the way deployments should: a temporary name, then an atomic rename. */
async function place(path: string, bytes: Uint8Array | string): Promise<void> {
  const temporary = join(path, '..', '..', `.tmp-${Math.random().toString(36).slice(2)}`);
  await writeFile(temporary, bytes);
  await rename(temporary, path);
}

async function addVersion(root: string, model: string, version: number, bytes: Uint8Array | string): Promise<void> {
  const staging = join(root, `.staging-${model}-${version}`);
  await mkdir(staging, { recursive: true });
  await writeFile(join(staging, 'model.onnx'), bytes);
  await rename(staging, join(root, model, String(version)));
}

describe('poll mode', () => {
  let server: TestServer;
  let repo: { root: string; cleanup: () => Promise<void> };
  let polls = 0;
  const infer = async (model = 'adder') => (await server.post(`/v2/models/${model}/infer`, addRequest(x))).body;
  const kOf = async (model = 'adder') => {
    const body = await infer(model);
    return body.outputs ? { k: body.outputs[0].data[0] - x[0]!, version: body.model_version } : undefined;
  };
  const index = async () => (await server.post('/v2/repository/index', {})).body as any[];
  /** Waits for two complete scans, so anything on disk before the call has been seen. */
  const twoPolls = () => { const target = polls + 2; return waitFor('two polls', () => polls >= target); };

  before(async () => {
    repo = await makeRepository({ adder: { config: ADD_CONFIG, versions: { 1: addModel(1) } } });
    server = await startTestServer(repo.root, { modelControlMode: 'poll', repositoryPollSecs: 0.05 });
    const repository = server.server.repository;
    const poll = repository.poll.bind(repository);
    repository.poll = async () => { await poll(); polls++; };
  });
  after(async () => {
    await server.close();
    await repo.cleanup();
  });

  it('serves what was there at start', async () => {
    assert.deepEqual(await kOf(), { k: 1, version: '1' });
    assert.ok((await server.get('/v2')).body.extensions.includes('model_repository'));
  });

  it('loads a new version directory in the background and retires the old one', async () => {
    await addVersion(repo.root, 'adder', 2, addModel(2));
    await waitFor('version 2 serving', async () => (await kOf())?.k === 2);
    assert.deepEqual(await kOf(), { k: 2, version: '2' });
    await waitFor('version 1 retired', async () => (await index()).length === 1);
    assert.deepEqual(await index(), [{ name: 'adder', version: '2', state: 'READY', reason: '' }]);
  });

  it('reloads a version whose model file changed', async () => {
    await place(join(repo.root, 'adder', '2', 'model.onnx'), addModel(3));
    await waitFor('changed file serving', async () => (await kOf())?.k === 3);
    assert.deepEqual(await kOf(), { k: 3, version: '2' });
  });

  it('does not reload a file touched without a content change', async () => {
    const before = server.server.repository.find('adder');
    const later = new Date(Date.now() + 5000);
    await utimes(join(repo.root, 'adder', '2', 'model.onnx'), later, later);
    await twoPolls();
    assert.equal(server.server.repository.find('adder'), before, 'same version object: no reload');
  });

  it('reloads every version when the configuration changes', async () => {
    await place(join(repo.root, 'adder', 'config.yaml'), stringify({ ...ADD_CONFIG, max_batch_size: 2, version_policy: { all: {} } }));
    const batch = async (v: number) => (await server.get(`/v2/models/adder/versions/${v}/config`)).body.max_batch_size;
    await waitFor('both versions under the new config', async () => (await batch(1)) === 2 && (await batch(2)) === 2);
    assert.deepEqual((await index()).map((e) => [e.version, e.state]), [['1', 'READY'], ['2', 'READY']]);
    assert.equal((await server.get('/v2/models/adder/versions/1/config')).body.max_batch_size, 2);
    assert.equal((await server.get('/v2/models/adder/versions/2/config')).body.max_batch_size, 2);
    assert.deepEqual((await server.post('/v2/models/adder/versions/1/infer', addRequest(x))).body.outputs[0].data, x.map((v) => v + 1));
  });

  it('unloads a removed version', async () => {
    await rm(join(repo.root, 'adder', '1'), { recursive: true });
    await waitFor('version 1 gone', async () => (await index()).length === 1);
    assert.deepEqual(await index(), [{ name: 'adder', version: '2', state: 'READY', reason: '' }]);
    assert.equal((await server.post('/v2/models/adder/versions/1/infer', addRequest(x))).status, 404);
  });

  it('keeps serving when a new version fails to load, and loads it once fixed', async () => {
    await addVersion(repo.root, 'adder', 3, 'not a model');
    await waitFor('version 3 failed', async () => (await index()).some((e) => e.version === '3' && e.state === 'UNAVAILABLE'));
    assert.deepEqual(await kOf(), { k: 3, version: '2' }, 'version 2 still serves');
    await place(join(repo.root, 'adder', '3', 'model.onnx'), addModel(4));
    await waitFor('fixed version 3 serving', async () => (await kOf())?.k === 4);
    assert.deepEqual(await kOf(), { k: 4, version: '3' });
  });

  it('loads a new model directory and unloads a removed one', async () => {
    const staging = join(repo.root, '.staging-newcomer');
    await mkdir(join(staging, '1'), { recursive: true });
    await writeFile(join(staging, '1', 'model.onnx'), addModel(7));
    await writeFile(join(staging, 'config.yaml'), stringify(ADD_CONFIG));
    await rename(staging, join(repo.root, 'newcomer'));
    await waitFor('newcomer serving', async () => (await kOf('newcomer'))?.k === 7);
    await rm(join(repo.root, 'newcomer'), { recursive: true });
    await waitFor('newcomer gone', async () => !(await index()).some((e) => e.name === 'newcomer'));
    assert.equal((await server.post('/v2/models/newcomer/infer', addRequest(x))).status, 404);
  });
});

describe('none mode', () => {
  it('loads everything at start and does not follow the repository', async () => {
    const repo = await makeRepository({ adder: { config: ADD_CONFIG, versions: { 1: addModel(1) } } });
    const server = await startTestServer(repo.root, { repositoryPollSecs: 0.05 });
    try {
      let polls = 0;
      const repository = server.server.repository;
      const poll = repository.poll.bind(repository);
      repository.poll = async () => { await poll(); polls++; };
      await addVersion(repo.root, 'adder', 2, addModel(2));
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(polls, 0, 'no scan ran');
      const body = (await server.post('/v2/models/adder/infer', addRequest(x))).body;
      assert.equal(body.model_version, '1');
    } finally {
      await server.close();
      await repo.cleanup();
    }
  });
});
