/**
 * Rewrites the JavaScript of an image (node_modules/ and Vireo's dist/) without comments and layout whitespace
 * (esbuild's `minifyWhitespace`, file by file), so the image carries the code node runs and not the prose
 * around it: 6.6 MB less in the image of examples/models, 35 % of its JavaScript (docs/deploy.md, "Size").
 *
 * Why it cannot change what runs: each file stays its own module with its own path (nothing is bundled,
 * so every `require`, `import`, worker-thread entry and `exports` target resolves as before); identifiers
 * and syntax are left alone (no `minifyIdentifiers`; no `minifySyntax`, whose rewrites have had bugs, e.g.
 * esbuild#4482 dropped `using` disposal; `target: esnext`, so nothing is lowered) and the module format is
 * kept (no `format`: `require`/`module.exports` and `import`/`export` are printed as they were). Licence
 * comments (`/*!`, `@license`, `@preserve`) stay. A file esbuild cannot parse, or one that would not shrink
 * (already minified), is left as it was.
 * The cost: a stack trace names the function and a column on one long line instead of a line (dist/'s
 * lines never matched src/ anyway; no source maps ship).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PackagingError } from './packaging-error.js';

/** No syntax is lowered: every construct is printed as written, whatever Node runs it. */
const TARGET = 'esnext';
const JAVASCRIPT = /\.(c|m)?js$/;
/** Files transformed at once (esbuild runs them in its own process; more in flight buys nothing). */
const CONCURRENCY = 16;

export interface MinifySummary {
  files: number;
  minified: number;
  bytesBefore: number;
  bytesAfter: number;
}

async function javascriptFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && JAVASCRIPT.test(e.name)).map((e) => join(e.parentPath, e.name)).sort();
}

/** Minifies every .js, .cjs and .mjs under `dir` in place. */
export async function minifyJavaScript(dir: string): Promise<MinifySummary> {
  // esbuild comes with tsx, a dependency: wherever vireo build runs, it is installed.
  const { transform } = await import('esbuild').catch((error: Error) => {
    throw new PackagingError(`esbuild, which minifies the image's JavaScript, does not load (${error.message}): run npm ci`);
  });
  const files = await javascriptFiles(dir);
  const summary: MinifySummary = { files: files.length, minified: 0, bytesBefore: 0, bytesAfter: 0 };
  const one = async (file: string) => {
    const source = await readFile(file);
    summary.bytesBefore += source.length;
    let code: Buffer | undefined;
    try {
      const result = await transform(source.toString('utf8'), {
        loader: 'js', target: TARGET, minifyWhitespace: true, legalComments: 'inline', charset: 'utf8', logLevel: 'silent',
      });
      code = Buffer.from(result.code);
    } catch {
      // Not JavaScript esbuild can parse: node may still load it (or never does); keep it unchanged.
    }
    if (code && code.length < source.length) {
      await writeFile(file, code);
      summary.minified += 1;
      summary.bytesAfter += code.length;
    } else summary.bytesAfter += source.length;
  };
  for (let i = 0; i < files.length; i += CONCURRENCY) await Promise.all(files.slice(i, i + CONCURRENCY).map(one));
  return summary;
}
