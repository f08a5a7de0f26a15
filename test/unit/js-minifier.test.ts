/**
 * The image's JavaScript minifier (src/packaging/js-minifier.ts) on real modules written to disk: CommonJS
 * and ES modules importing each other keep computing what they computed before (the expected values come
 * from running the untouched copies), licence comments stay, and files it must not rewrite (unparsable,
 * already minified, not JavaScript) stay byte for byte.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { minifyJavaScript } from '../../src/packaging/js-minifier.js';

const FILES: Record<string, string> = {
  'pkg/package.json': JSON.stringify({ name: 'pkg', main: 'lib/index.cjs' }, null, 2),
  'pkg/lib/index.cjs': `/*! pkg v1 | MIT License */
'use strict';
// A comment that says nothing the program needs.
const { scale } = require('./scale.cjs');

/**
 * Sums the scaled values.
 */
function total(values) {
  let sum = 0;
  for (const value of values) {
    sum += scale(value); // scaled
  }
  return sum;
}

module.exports = { total, label: \`total of
  two lines\`, name: total.name };
`,
  'pkg/lib/scale.cjs': `'use strict';
/** Three, the factor. */
const FACTOR = 3;
exports.scale = (x) => x * FACTOR;
`,
  'esm/main.mjs': `// @license Apache-2.0 (kept)
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { total, label, name } = require('../pkg/lib/index.cjs');

/** Exports what the CommonJS side computes, and a class with a private field. */
export class Counter {
  #count = 0;
  add(n) {
    this.#count += n;
    return this.#count;
  }
}
export const result = { total: total([1, 2, 3]), label, name, regex: /a\\/b  c/g.source, url: typeof import.meta.url };
`,
  'broken.js': 'this is not JavaScript (\n',
  'already.min.js': 'exports.x=1;',
  'data.json': '{\n  "keep": "me"\n}\n',
};

async function run(root: string) {
  const esm = await import(pathToFileURL(join(root, 'esm/main.mjs')).href + `?${root}`) as { Counter: new () => { add(n: number): number }; result: unknown };
  const counter = new esm.Counter();
  counter.add(2);
  return { result: esm.result, counter: counter.add(5), cjs: createRequire(join(root, 'x.js'))('./pkg').total([10]) as number };
}

describe('js-minifier', () => {
  let original = '';
  let minified = '';
  before(async () => {
    original = await mkdtemp(join(tmpdir(), 'vireo-minify-orig-'));
    for (const [path, text] of Object.entries(FILES)) {
      await mkdir(join(original, path, '..'), { recursive: true });
      await writeFile(join(original, path), text);
    }
    minified = await mkdtemp(join(tmpdir(), 'vireo-minify-'));
    await cp(original, minified, { recursive: true });
  });
  after(async () => {
    await rm(original, { recursive: true, force: true });
    await rm(minified, { recursive: true, force: true });
  });

  it('shrinks the modules, which compute what the originals compute', async () => {
    const summary = await minifyJavaScript(minified);
    assert.equal(summary.files, 5);
    assert.equal(summary.minified, 3);
    assert.ok(summary.bytesAfter < summary.bytesBefore * 0.8, JSON.stringify(summary));
    const expected = await run(original);
    assert.deepEqual(expected.result, { total: 18, label: 'total of\n  two lines', name: 'total', regex: 'a\\/b  c', url: 'string' });
    assert.deepEqual(await run(minified), expected);
  });

  it('drops comments but keeps licence comments', async () => {
    const cjs = await readFile(join(minified, 'pkg/lib/index.cjs'), 'utf8');
    assert.match(cjs, /\/\*! pkg v1 \| MIT License \*\//);
    assert.doesNotMatch(cjs, /says nothing|Sums the scaled/);
    assert.match(await readFile(join(minified, 'esm/main.mjs'), 'utf8'), /@license Apache-2\.0/);
    assert.doesNotMatch(await readFile(join(minified, 'pkg/lib/scale.cjs'), 'utf8'), /the factor/);
  });

  it('leaves unparsable, already minified and non-JavaScript files byte for byte', async () => {
    for (const path of ['broken.js', 'already.min.js', 'data.json', 'pkg/package.json']) {
      assert.equal(await readFile(join(minified, path), 'utf8'), FILES[path], path);
    }
  });
});
