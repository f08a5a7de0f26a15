/**
 * `default_model_filename` names a file inside the version directory and nothing else (issue 13,
 * defect 3): a `..` path on disk or in a load request's config override loads no model file and
 * runs no handler code from outside the repository, for the onnx and typescript backends alike.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const io = (name: string, dims: number[]) => ({ name, data_type: 'TYPE_INT32', dims });

describe('default_model_filename stays inside the version directory', () => {
  let server: TestServer;
  let repo: { root: string; cleanup: () => Promise<void> };
  let outside: string;
  let marker: string;
  /** From <repo>/<model>/<version>/ up to the directory that holds both the repository and `outside`. */
  let escape: (file: string) => string;

  before(async () => {
    outside = await mkdtemp(join(tmpdir(), 'vireo-outside-'));
    marker = join(outside, 'handler-ran');
    await writeFile(join(outside, 'escape.onnx'), simpleModel());
    await writeFile(join(outside, 'evil.ts'), `import { writeFileSync } from 'node:fs';
export function initialize() { writeFileSync(${JSON.stringify(marker)}, 'ran'); }
export function execute(requests) { return requests.map(() => ({ outputs: { Y: { data: [1] } } })); }
`);
    escape = (file) => `../../../${basename(outside)}/${file}`;
    repo = await makeRepository({
      onnx_escape: { config: { default_model_filename: escape('escape.onnx') }, versions: { 1: simpleModel() } },
      ts_escape: { config: { backend: 'typescript', input: [io('X', [1])], output: [io('Y', [1])], default_model_filename: escape('evil.ts') }, versions: { 1: 'export function execute(r) { return r; }' }, filename: 'model.ts' },
      absolute: { config: { default_model_filename: join(outside, 'escape.onnx') }, versions: { 1: simpleModel() } },
      renamed: { config: { default_model_filename: 'weights.onnx' }, versions: { 1: simpleModel() }, filename: 'weights.onnx' },
      target: { versions: { 1: simpleModel() } },
      corrupt: { versions: { 1: 'not an onnx model' } },
    });
    server = await startTestServer(repo.root, { modelControlMode: 'explicit', loadModels: ['*'], grpcPort: -1 });
  });
  after(async () => {
    await server.close();
    await repo.cleanup();
    await rm(outside, { recursive: true, force: true });
  });

  const reason = (name: string) => server.server.repositoryIndex().find((e) => e.name === name)?.reason ?? '';

  it('refuses a configured path out of the repository, for onnx and typescript models, and runs nothing', async () => {
    for (const model of ['onnx_escape', 'ts_escape', 'absolute']) {
      assert.equal((await server.get(`/v2/models/${model}/ready`)).status, 503, model);
      assert.match(reason(model), /default_model_filename .* is not allowed/, model);
      assert.ok(!reason(model).includes(repo.root), `${model}: no repository path in "${reason(model)}"`);
    }
    assert.equal(existsSync(marker), false, 'the outside handler never ran');
    // A plain file name still works.
    assert.equal((await server.get('/v2/models/renamed/ready')).status, 200);
  });

  it('shows load errors with paths relative to the repository, never its absolute location', async () => {
    assert.match(reason('corrupt'), /corrupt\/1\/model\.onnx/);
    assert.ok(!reason('corrupt').includes(repo.root), reason('corrupt'));
    const res = await server.post('/v2/repository/models/corrupt/load', {});
    assert.equal(res.status, 503);
    assert.match(res.body.error, /corrupt\/1\/model\.onnx/);
    assert.ok(!res.body.error.includes(repo.root), res.body.error);
  });

  it('refuses the same path in a load request\'s config override', async () => {
    for (const config of [
      { default_model_filename: escape('escape.onnx') },
      { backend: 'typescript', input: [io('X', [1])], output: [io('Y', [1])], default_model_filename: escape('evil.ts') },
    ]) {
      const res = await server.post('/v2/repository/models/target/load', { parameters: { config: JSON.stringify(config) } });
      assert.ok(res.status >= 400 && res.status < 500 || res.status === 503, `status ${res.status}`);
      assert.match(res.body.error, /default_model_filename .* is not allowed/);
      assert.ok(!res.body.error.includes(repo.root), res.body.error);
    }
    assert.equal(existsSync(marker), false, 'the outside handler never ran');
  });
});
