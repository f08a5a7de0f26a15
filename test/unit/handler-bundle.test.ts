/**
 * backends/handler/handler-bundle.ts: a handler compiled on the main thread sees what it saw when tsx
 * loaded it in place — its own file as import.meta.url, packages from its own directory, its relative
 * imports — and a handler that does not compile fails the load with the file and line.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, it } from 'node:test';
import { compileHandler } from '../../src/backends/handler/handler-bundle.js';

const repo = mkdtempSync(join(tmpdir(), 'vireo-handler-bundle-'));
after(() => rmSync(repo, { recursive: true, force: true }));
const version = join(repo, 'model', '1');
mkdirSync(version, { recursive: true });
// A package only the model's repository has: resolved from the handler's directory, as Node would.
mkdirSync(join(repo, 'node_modules', 'local-only'), { recursive: true });
writeFileSync(join(repo, 'node_modules', 'local-only', 'package.json'), '{"name":"local-only","type":"module","exports":{"import":"./esm.js","require":"./cjs.cjs"}}');
writeFileSync(join(repo, 'node_modules', 'local-only', 'esm.js'), 'export const flavour = "esm";\n');
writeFileSync(join(repo, 'node_modules', 'local-only', 'cjs.cjs'), 'exports.flavour = "cjs";\n');
writeFileSync(join(version, 'helper.ts'), 'export const helperUrl: string = import.meta.url;\nexport const helperDir: string = import.meta.dirname;\n');
writeFileSync(join(version, 'model.ts'), [
  "import { readFileSync } from 'node:fs';",
  "import { flavour } from 'local-only';",
  "import { helperUrl, helperDir } from './helper.js';",
  'export const own: string = import.meta.url;',
  "export const data: string = readFileSync(new URL('./data.txt', import.meta.url), 'utf8');",
  'export { flavour, helperUrl, helperDir };',
].join('\n'));
writeFileSync(join(version, 'data.txt'), 'beside the model');

it('keeps each file its own import.meta, resolves packages from the handler directory, with Node\'s conditions', async () => {
  const url = await compileHandler(join(version, 'model.ts'));
  assert.ok(url?.startsWith('data:text/javascript;base64,'));
  const module = await import(url!) as Record<string, string>;
  assert.equal(module.own, pathToFileURL(join(version, 'model.ts')).href);
  assert.equal(module.helperUrl, pathToFileURL(join(version, 'helper.ts')).href);
  assert.equal(module.helperDir, version);
  assert.equal(module.data, 'beside the model');
  assert.equal(module.flavour, 'esm');
});

it('leaves a model.mjs to the worker and fails a handler that does not compile with its file and line', async () => {
  assert.equal(await compileHandler(join(version, 'model.mjs')), undefined);
  writeFileSync(join(version, 'broken.ts'), 'export const x = ;\n');
  await assert.rejects(compileHandler(join(version, 'broken.ts')), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'VIREO_ERR_MODEL_LOAD_FAILED');
    assert.match(error.message, /broken\.ts failed to load: .*broken\.ts:1: /);
    return true;
  });
});
