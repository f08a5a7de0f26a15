/**
 * Unload, in explicit model-control mode, of a model the server holds nothing of. Expected from
 * Triton's core (src/model_repository_manager/model_repository_manager.cc,
 * ModelRepositoryManager::LoadUnloadModel / LoadUnloadModels): an unload does not poll the repository;
 * a name its model map does not hold gives nothing to unload and the call succeeds — REST 200 with an
 * empty body, gRPC OK — whether the folder appeared after the last scan, was never loaded, or does not
 * exist at all. A later load polls the folder and loads it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { tritonClient, type RpcClient } from '../helpers/grpc.js';
import { ADD_CONFIG, addModel, addRequest } from '../helpers/lifecycle.js';
import { makeRepository, writeModel } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('unload of a model the server holds nothing of (explicit mode)', () => {
  let server: TestServer;
  let client: RpcClient;
  let repo: { root: string; cleanup: () => Promise<void> };

  before(async () => {
    repo = await makeRepository({
      simple: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } },
      idle: { config: ADD_CONFIG, versions: { 1: addModel(1) } },
    });
    server = await startTestServer(repo.root, { modelControlMode: 'explicit', loadModels: ['simple'] });
    client = tritonClient(server.grpcTarget);
  });
  after(async () => {
    client?.close();
    await server?.close();
    await repo?.cleanup();
  });

  const unload = (model: string) => server.post(`/v2/repository/models/${model}/unload`, '');

  it('answers success with nothing to do, over REST and gRPC; a later load of the new folder loads it', async () => {
    assert.deepEqual((await server.post('/v2/repository/index', {})).body.map((e: { name: string }) => e.name), ['idle', 'simple']);
    // A folder written after the last scan.
    await writeModel(repo.root, 'late', { config: ADD_CONFIG, versions: { 1: addModel(5) } });
    for (const name of ['late', 'never_existed', 'idle']) {
      const rest = await unload(name);
      assert.deepEqual([rest.status, rest.body], [200, ''], `${name}: ${JSON.stringify(rest.body)}`);
      assert.deepEqual(await client.call('RepositoryModelUnload', { model_name: name, parameters: {} }), {}, name);
    }
    // Nothing else changed: simple still serves, and the new folder loads and serves on request.
    assert.equal((await server.get('/v2/models/simple/ready')).status, 200);
    assert.equal((await server.post('/v2/repository/models/late/load', '')).status, 200);
    const answer = await server.post('/v2/models/late/infer', addRequest([1, 2, 3, 4]));
    assert.deepEqual(answer.body.outputs[0].data, [6, 7, 8, 9]);
    assert.equal((await unload('late')).status, 200);
    assert.notEqual((await server.get('/v2/models/late/ready')).status, 200);
  });
});
