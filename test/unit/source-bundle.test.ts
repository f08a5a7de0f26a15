/**
 * bin/source-bundle.js: a checkout runs its TypeScript sources compiled by esbuild, never a stale build,
 * and each compiled file still sees its own source path as import.meta.url.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, it } from 'node:test';

const repoRoot = join(import.meta.dirname, '..', '..');
const checkout = mkdtempSync(join(tmpdir(), 'vireo-source-bundle-'));
after(() => rmSync(checkout, { recursive: true, force: true }));

mkdirSync(join(checkout, 'src', 'cli'), { recursive: true });
mkdirSync(join(checkout, 'src', 'backends'), { recursive: true });
// esbuild only: the build cache then lives in the temporary checkout's own node_modules/.cache.
mkdirSync(join(checkout, 'node_modules'));
symlinkSync(join(repoRoot, 'node_modules', 'esbuild'), join(checkout, 'node_modules', 'esbuild'));
writeFileSync(join(checkout, 'package.json'), '{"type":"module"}');
writeFileSync(join(checkout, 'tsconfig.json'), '{}');
writeFileSync(join(checkout, 'src', 'backends', 'pool-worker.ts'), 'export const pool: number = 1;\n');
writeFileSync(join(checkout, 'src', 'backends', 'instance-worker.ts'), 'export const instance: number = 2;\n');
mkdirSync(join(checkout, 'src', 'backends', 'handler'), { recursive: true });
writeFileSync(join(checkout, 'src', 'backends', 'handler', 'handler-thread.ts'), 'export const handlers: number = 4;\n');
mkdirSync(join(checkout, 'src', 'protocols', 'openai-batch'), { recursive: true });
writeFileSync(join(checkout, 'src', 'protocols', 'openai-batch', 'job-thread.ts'), 'export const job: number = 3;\n');
const greeting = (word: string) => `import { answer } from './answer.js';\nconst where: string = import.meta.url;\nconsole.log(JSON.stringify({ word: '${word}', answer, where }));\n`;
writeFileSync(join(checkout, 'src', 'cli', 'main.ts'), greeting('first'));
writeFileSync(join(checkout, 'src', 'cli', 'answer.ts'), 'export const answer: number = 41 + 1;\n');

/** Compiles (or reuses) the checkout's build in a fresh process and runs its main entry. */
function run(): { word: string; answer: number; where: string } {
  const script = `import { compiledSources } from ${JSON.stringify(pathToFileURL(join(repoRoot, 'bin', 'source-bundle.js')).href)};
    const entries = await compiledSources(${JSON.stringify(pathToFileURL(checkout + '/').href)});
    if (!entries) throw new Error('not compiled');
    await import(${'`file://${entries.main}`'});`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.trim()) as { word: string; answer: number; where: string };
}

it('runs the compiled sources, with import.meta.url naming the source file', () => {
  const first = run();
  assert.equal(first.word, 'first');
  assert.equal(first.answer, 42);
  assert.equal(first.where, pathToFileURL(join(checkout, 'src', 'cli', 'main.ts')).href);
});

it('rebuilds when a source file changes, also one the entry imports', () => {
  writeFileSync(join(checkout, 'src', 'cli', 'main.ts'), greeting('second'));
  assert.equal(run().word, 'second');
  writeFileSync(join(checkout, 'src', 'cli', 'answer.ts'), 'export const answer: number = 50 + 4;\n');
  // Same size as before: the change is seen through the mtime.
  const later = new Date(Date.now() + 5000);
  utimesSync(join(checkout, 'src', 'cli', 'answer.ts'), later, later);
  assert.equal(run().answer, 54);
});
