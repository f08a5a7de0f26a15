/** The build context of `vireo build`: reproducible, production dependencies only, the chosen models; bad options refused. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeBuildContext } from '../../src/packaging/build-context.js';
import { inventory } from '../../src/packaging/model-inventory.js';

const root = join(import.meta.dirname, '..', '..');
const examples = join(root, 'examples', 'models');
const work = mkdtempSync(join(tmpdir(), 'vireo-context-'));
after(() => rmSync(work, { recursive: true, force: true }));

function vireo(...args: string[]) {
  return spawnSync(process.execPath, [join(root, 'bin/vireo.js'), ...args], { encoding: 'utf8', cwd: root });
}

describe('model inventory', () => {
  it('lists models with their served versions and format, sorted', async () => {
    assert.deepEqual(await inventory(examples), [
      { name: 'ocr', versions: [1], format: 'vireo', callsOtherModels: true },
      { name: 'ocr_cls', versions: [1], format: 'onnx', callsOtherModels: false },
      { name: 'ocr_det', versions: [1], format: 'onnx', callsOtherModels: false },
      { name: 'ocr_rec', versions: [1], format: 'onnx', callsOtherModels: false },
      { name: 'simple', versions: [1], format: 'onnx', callsOtherModels: false },
      { name: 'tabular', versions: [1], format: 'onnx', callsOtherModels: false },
    ]);
  });

  it('follows the version policy and recognises handler models', async () => {
    const repo = join(work, 'repo');
    for (const v of [1, 2, 3]) mkdirSync(join(repo, 'm', String(v)), { recursive: true });
    writeFileSync(join(repo, 'm', 'config.yaml'), 'version_policy: { specific: { versions: [1, 3] } }\n');
    mkdirSync(join(repo, 'h', '2'), { recursive: true });
    writeFileSync(join(repo, 'h', '2', 'model.ts'), 'export {}\n');
    mkdirSync(join(repo, 'empty'), { recursive: true });
    assert.deepEqual(await inventory(repo, ['m', 'h']), [
      { name: 'h', versions: [2], format: 'vireo', callsOtherModels: true },
      { name: 'm', versions: [1, 3], format: 'onnx', callsOtherModels: false },
    ]);
    await assert.rejects(inventory(repo), /model empty has no version directory/);
    await assert.rejects(inventory(repo, ['m', 'nope']), /model\(s\) not in .*: nope/);
    await assert.rejects(inventory(join(work, 'missing')), /cannot read model repository/);
  });
});

describe('build context', () => {
  const models = [{ name: 'simple', versions: [1], format: 'onnx' as const, callsOtherModels: false }];
  const options = (dir: string) => ({ packageRoot: root, modelRepository: examples, models, contextDir: dir, epoch: 315532800, base: 'example/node:20', version: '9.9.9' });

  it('is reproducible: two writes give the same digest and Containerfile', async () => {
    const a = await writeBuildContext(options(join(work, 'a')));
    const b = await writeBuildContext(options(join(work, 'b')));
    assert.equal(a.digest, b.digest);
    assert.equal(a.files, b.files);
    assert.equal(readFileSync(a.containerfile, 'utf8'), readFileSync(b.containerfile, 'utf8'));
    for (const file of ['app/package.json', 'app/dist/cli/main.js', 'models/simple/1/model.onnx']) {
      assert.equal(statSync(join(a.dir, file)).mtimeMs, 315532800_000, file);
    }
  });

  it('carries the pinned lockfile, dist/, production dependencies only and only the chosen models', () => {
    const app = join(work, 'a', 'app');
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
    assert.deepEqual(lock, JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')));
    for (const [path, entry] of Object.entries(lock.packages as Record<string, { dev?: boolean }>)) {
      if (!path.startsWith('node_modules/')) continue;
      if (entry.dev) assert.ok(!existsSync(join(app, path)), `dev package ${path} copied`);
    }
    assert.ok(existsSync(join(app, 'node_modules/onnxruntime-node/package.json')));
    assert.ok(existsSync(join(app, 'node_modules/fastify/package.json')));
    assert.ok(!existsSync(join(app, 'node_modules/typescript')));
    assert.ok(existsSync(join(app, 'dist/cli/main.js')));
    assert.ok(existsSync(join(app, 'bin/vireo.js')));
    assert.ok(existsSync(join(app, 'proto/triton/grpc_service.proto')), 'the gRPC protos the server loads at run time');
    assert.ok(existsSync(join(app, 'web/console/index.html')), 'the console page the server serves');
    assert.ok(!existsSync(join(app, 'src')) && !existsSync(join(app, 'tools')));
    assert.ok(!existsSync(join(work, 'a', 'models', 'ocr_det')));
  });

  it('writes a two-stage Containerfile with the image contract', () => {
    const text = readFileSync(join(work, 'a', 'Containerfile'), 'utf8');
    assert.equal(text.match(/^FROM example\/node:20/gm)?.length, 2);
    assert.match(text, /^RUN \["node", "\/opt\/prune.mjs", "\/opt\/vireo"\]$/m);
    assert.match(text, /^COPY --from=builder \/opt\/vireo \/opt\/vireo$/m);
    assert.match(text, /^USER 65532:65532$/m);
    assert.match(text, /^EXPOSE 8000 8001 8002$/m);
    assert.match(text, /io\.vireo\.models="simple:1"/);
    assert.match(text, /org\.opencontainers\.image\.version="9\.9\.9"/);
    assert.match(text, /^HEALTHCHECK .*\n\s+CMD \["node","-e",".*\/v2\/health\/ready/m);
    assert.match(text, /^ENTRYPOINT \["node", "\/opt\/vireo\/bin\/vireo.js", "serve"\]$/m);
  });

  it('refuses a non-empty context directory', async () => {
    await assert.rejects(writeBuildContext(options(join(work, 'a'))), /is not empty/);
  });
});

describe('vireo build options', () => {
  it('refuses a bad tag, a bad output and an unknown model with clear errors', () => {
    const bad = vireo('build', '--model-repository', examples, '--tag', 'Not A Tag');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--tag.*expected name:tag/);
    const out = vireo('build', '--model-repository', examples, '--tag', 'x:1', '--output', 'tar:/tmp/x');
    assert.notEqual(out.status, 0);
    assert.match(out.stderr, /expected oci-archive:<file>/);
    const unknown = vireo('build', '--model-repository', examples, '--tag', 'x:1', '--model', 'nope', '--no-build');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /model\(s\) not in .*: nope/);
  });

  it('--no-build writes the context and prints the docker and podman commands', () => {
    const dir = join(work, 'cli');
    const r = vireo('build', '--model-repository', examples, '--tag', 'my-models:1.0', '--model', 'simple', '--context', dir, '--no-build');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      `docker build -t my-models:1.0 -f ${join(dir, 'Containerfile')} ${dir}`,
      `podman build --format docker -t my-models:1.0 -f ${join(dir, 'Containerfile')} ${dir}`,
    ]);
    assert.ok(existsSync(join(dir, 'models', 'simple', '1', 'model.onnx')));
  });
});
