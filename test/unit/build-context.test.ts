/** The build context of `vireo build`: reproducible, production dependencies only, the chosen models; bad options refused. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeBuildContext } from '../../src/packaging/build-context.js';
import { DEFAULT_BASE } from '../../src/packaging/containerfile.js';
import { inventory } from '../../src/packaging/model-inventory.js';
import { INSTALL_ONLY_DEPENDENCIES } from '../../src/packaging/prune-list.js';
import { PackagingError } from '../../src/packaging/packaging-error.js';
import { startTestServer } from '../helpers/server.js';

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
      { name: 'ocr_stream', versions: [1], format: 'vireo', callsOtherModels: true },
      { name: 'repeat_int32', versions: [1], format: 'vireo', callsOtherModels: true },
      { name: 'silero_vad', versions: [1], format: 'onnx', callsOtherModels: false },
      { name: 'simple', versions: [1], format: 'onnx', callsOtherModels: false },
      { name: 'simple_sequence', versions: [1], format: 'onnx', callsOtherModels: false },
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
    // No compiler in the image: tsx and esbuild only load TypeScript in a development checkout.
    for (const compiler of ['tsx', 'esbuild', '@esbuild', 'get-tsconfig']) assert.ok(!existsSync(join(app, 'node_modules', compiler)), `${compiler} copied`);
    // Nor what only install scripts and command-line tools use: onnxruntime's CUDA download, proto-loader's CLI.
    for (const tool of ['adm-zip', 'global-agent', 'yargs', 'yargs-parser', 'cliui']) assert.ok(!existsSync(join(app, 'node_modules', tool)), `${tool} copied`);
    // ...and nothing the server needs is left out: every copied package finds its dependencies in the tree.
    const lockPackages = lock.packages as Record<string, { dependencies?: Record<string, string> }>;
    for (const path of Object.keys(lockPackages).filter((p) => p.startsWith('node_modules/') && existsSync(join(app, p)))) {
      const installOnly = INSTALL_ONLY_DEPENDENCIES[path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)] ?? [];
      for (const dep of Object.keys(lockPackages[path]!.dependencies ?? {}).filter((d) => !installOnly.includes(d))) {
        let base = path;
        let found = false;
        for (;;) {
          if (existsSync(join(app, base, 'node_modules', dep, 'package.json'))) { found = true; break; }
          const cut = base.lastIndexOf('/node_modules/');
          if (cut < 0) { found = existsSync(join(app, 'node_modules', dep, 'package.json')); break; }
          base = base.slice(0, cut);
        }
        assert.ok(found, `${path} needs ${dep}, which is not in the image`);
      }
    }
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

  it('defaults to a supported Node LTS base', () => {
    assert.equal(DEFAULT_BASE, 'node:24-bookworm-slim');
    const engines = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node;
    assert.equal(engines, '>=22', 'engines says what the production dependencies need (cookie@2 via fastify: node >= 22)');
  });

  it('refuses a non-empty context directory', async () => {
    await assert.rejects(writeBuildContext(options(join(work, 'a'))), /is not empty/);
  });

  it('a context directory that cannot be made is a PackagingError (one line from the CLI), also under /proc', { timeout: 20_000 }, async () => {
    const file = join(work, 'context-is-a-file');
    writeFileSync(file, 'x');
    await assert.rejects(writeBuildContext(options(join(file, 'sub'))), (error: Error) => error instanceof PackagingError && /context directory .* cannot be made: ENOTDIR/.test(error.message));
    if (process.platform === 'linux') {
      await assert.rejects(writeBuildContext(options('/proc/vireo-no-such-context')), (error: Error) => error instanceof PackagingError && /cannot be made: ENOENT/.test(error.message));
    }
  });
});

describe('handler models compiled at build time, and model-only images', () => {
  const repo = join(work, 'handlers');
  before(() => {
    mkdirSync(join(repo, 'scaler', '1'), { recursive: true });
    writeFileSync(join(repo, 'scaler', 'config.yaml'), [
      'backend: typescript', 'max_batch_size: 4',
      'input: [{ name: X, data_type: TYPE_FP32, dims: [3] }]', 'output: [{ name: Y, data_type: TYPE_FP32, dims: [3] }]', '',
    ].join('\n'));
    // TypeScript with a type-only import, a local .ts module imported the NodeNext way (./factor.js) and a data file.
    writeFileSync(join(repo, 'scaler', '1', 'factor.ts'), 'export const offset: number = 0.5;\n');
    writeFileSync(join(repo, 'scaler', '1', 'factor.json'), '{ "factor": 3 }\n');
    writeFileSync(join(repo, 'scaler', '1', 'model.ts'), [
      "import { readFile } from 'node:fs/promises';",
      "import { join } from 'node:path';",
      "import type { HandlerContext, HandlerRequest } from 'vireo/handler';",
      "import { offset } from './factor.js';",
      'let factor = 0;',
      "export async function initialize(ctx: HandlerContext): Promise<void> { factor = JSON.parse(await readFile(join(ctx.versionDir, 'factor.json'), 'utf8')).factor; }",
      'export function execute(requests: HandlerRequest[]) {',
      '  return requests.map((r) => ({ outputs: { Y: { data: Float32Array.from(r.inputs.X!.data as Float32Array, (v: number) => v * factor + offset) } } }));',
      '}', '',
    ].join('\n'));
    // A handler that imports another model's code (as ocr_stream imports ocr's pipeline); it sorts after
    // the model it imports from, so that model's sources must outlive that model's own compilation.
    mkdirSync(join(repo, 'shifter', '1'), { recursive: true });
    writeFileSync(join(repo, 'shifter', 'config.yaml'), readFileSync(join(repo, 'scaler', 'config.yaml')));
    writeFileSync(join(repo, 'shifter', '1', 'model.ts'), [
      "import type { HandlerRequest } from 'vireo/handler';",
      "import { offset } from '../../scaler/1/factor.js';",
      'export function execute(requests: HandlerRequest[]) {',
      '  return requests.map((r) => ({ outputs: { Y: { data: Float32Array.from(r.inputs.X!.data as Float32Array, (v: number) => v + offset) } } }));',
      '}', '',
    ].join('\n'));
  });

  it('writes model.mjs without the TypeScript sources, and a model-only Containerfile', async () => {
    const models = await inventory(repo);
    const context = await writeBuildContext({ packageRoot: root, modelRepository: repo, models, contextDir: join(work, 'models-only'), epoch: 315532800, base: 'scratch', version: '9.9.9', modelsOnly: true });
    assert.deepEqual(readdirSync(join(context.dir, 'models', 'scaler', '1')).sort(), ['factor.json', 'model.mjs']);
    assert.deepEqual(readdirSync(join(context.dir, 'models', 'shifter', '1')), ['model.mjs']);
    assert.deepEqual(readdirSync(context.dir).sort(), ['Containerfile', 'models'], 'no application in a model-only context');
    const text = readFileSync(context.containerfile, 'utf8');
    assert.match(text, /^FROM scratch$/m);
    assert.match(text, /^COPY models \/models$/m);
    assert.match(text, /io\.vireo\.model\.scaler\.format="vireo"/);
    assert.doesNotMatch(text, /ENTRYPOINT|RUN/);
    const compiled = readFileSync(join(context.dir, 'models', 'scaler', '1', 'model.mjs'), 'utf8');
    assert.doesNotMatch(compiled, /import type|: number/);
    // Reproducible: nothing of the (temporary) context path gets into the module.
    assert.ok(!compiled.includes(work) && !compiled.includes('models-only'), compiled.slice(0, 200));
    assert.match(compiled, /^\/\/ factor\.ts$/m);
  });

  it('the compiled handler loads natively (no tsx) and computes what the source says', async () => {
    const server = await startTestServer(join(work, 'models-only', 'models'));
    try {
      const x = [1.5, -2, 10];
      const r = await server.post('/v2/models/scaler/infer', { inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 3], data: x }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual((r.body as any).outputs[0].data, x.map((v) => v * 3 + 0.5));
      const shifted = await server.post('/v2/models/shifter/infer', { inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 3], data: x }] });
      assert.deepEqual((shifted.body as any).outputs[0].data, x.map((v) => v + 0.5));
    } finally {
      await server.close();
    }
  });

  it('refuses a configuration that names an uncompiled model file', async () => {
    mkdirSync(join(work, 'named', 'h', '1'), { recursive: true });
    writeFileSync(join(work, 'named', 'h', 'config.yaml'), 'backend: typescript\ndefault_model_filename: handler.ts\n');
    writeFileSync(join(work, 'named', 'h', '1', 'model.ts'), 'export function execute(r: unknown[]) { return r; }\n');
    const models = await inventory(join(work, 'named'));
    await assert.rejects(writeBuildContext({ packageRoot: root, modelRepository: join(work, 'named'), models, contextDir: join(work, 'named-ctx'), epoch: 1, base: 'scratch', version: '1', modelsOnly: true }),
      /default_model_filename handler\.ts would name an uncompiled file/);
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
