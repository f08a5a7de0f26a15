/**
 * trimNativeHeap reaches glibc's malloc_trim: memory freed in the middle of the C heap, which free()
 * keeps, is resident before the trim and given back by it. Run in a child process of its own (node
 * --expose-gc), so the heap holds only what the test put there, and without tsx: its loader thread
 * changes which of glibc's arenas the allocations land in, so the module is compiled with esbuild
 * (tsx's own) first.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, it } from 'node:test';

const root = join(import.meta.dirname, '..', '..');
const source = join(root, 'src', 'core', 'native-heap.ts');
const require = createRequire(import.meta.url);
const esbuild = createRequire(require.resolve('tsx/package.json'))('esbuild') as typeof import('esbuild');
const dir = mkdtempSync(join(tmpdir(), 'vireo-native-heap-'));
const compiled = join(dir, 'native-heap.mjs');
// import.meta.url stays the source's, so koffi resolves from the checkout.
writeFileSync(compiled, esbuild.transformSync(readFileSync(source, 'utf8'), { loader: 'ts', format: 'esm' }).code.replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(source).href)));
after(() => rmSync(dir, { recursive: true, force: true }));

/** In a child: 256 blocks of 1 MiB malloc'd, each followed by a block of 4 KiB that stays (off V8's heap: typed arrays of up to 64 bytes live on it); the big ones freed. RSS in MiB before and after the trim. */
const SCRIPT = `
const { trimNativeHeap } = await import(process.env.NATIVE_HEAP_MODULE);
const rss = () => Math.round(process.memoryUsage.rss() / 2 ** 20);
// A first large block, freed: glibc then raises its mmap threshold, so the next ones come from its heap.
// V8 frees array buffers' memory after a collection, not within it: hence the waits.
const settle = async () => { gc(); await new Promise((r) => setTimeout(r, 300)); gc(); await new Promise((r) => setTimeout(r, 300)); };
let first = Buffer.alloc(2 ** 20); first = undefined; await settle();
const big = [], small = [];
for (let i = 0; i < 256; i++) { big.push(Buffer.alloc(2 ** 20, 1)); small.push(Buffer.allocUnsafeSlow(4096)); }
big.length = 0; await settle();
const before = rss();
const trimmed = trimNativeHeap();
console.log(JSON.stringify({ before, after: rss(), trimmed, kept: small.length }));
`;

function run(env: Record<string, string> = {}): { before: number; after: number; trimmed: boolean } {
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', SCRIPT], { env: { ...process.env, NATIVE_HEAP_MODULE: pathToFileURL(compiled).href, ...env }, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { before: number; after: number; trimmed: boolean };
}

it('gives back the C heap\'s free pages that free() kept (Linux, glibc)', { skip: process.platform !== 'linux' && 'glibc only' }, () => {
  const { before, after, trimmed } = run();
  assert.equal(trimmed, true);
  // 256 MiB were freed behind small live blocks: free() returns none of it, the trim nearly all.
  assert.ok(before - after > 200, `RSS ${before} → ${after} MiB`);
});

it('does nothing with VIREO_MALLOC_TRIM=0', { skip: process.platform !== 'linux' && 'glibc only' }, () => {
  const { before, after, trimmed } = run({ VIREO_MALLOC_TRIM: '0' });
  assert.equal(trimmed, false);
  assert.ok(Math.abs(before - after) < 20, `RSS ${before} → ${after} MiB`);
});
