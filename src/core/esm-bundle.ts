/**
 * Vireo's worker entries (backends' pool-worker.ts, instance-worker.ts and handler/handler-thread.ts, openai-batch's job-thread.ts) compiled to plain JavaScript when Vireo
 * runs from source, so a worker thread loads them natively.
 *
 * Why: tsx teaches Node TypeScript through module.register, and on Node 20 every thread that does so
 * gets a loader-hooks thread of its own — another V8 isolate with tsx in it (≈ 30 MiB measured for
 * `register()` alone in a bare process; docs/ARCHITECTURE.md, "Execution pool"). A worker that loads a
 * compiled entry needs none of it. The entry is bundled with esbuild (a dependency of tsx) into
 * node_modules/.cache/vireo/, every file named by its content hash, so package imports resolve through
 * the checkout's node_modules as before and a stale copy is never run. Without esbuild the caller
 * falls back to registering tsx in the worker. Handler models are compiled by handler/handler-bundle.ts.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Esbuild = typeof import('esbuild');

export const TARGET = `node${process.versions.node.split('.')[0]}`;
/** Node resolves with these conditions; esbuild would add "module" unless told otherwise. */
export const NODE_RESOLUTION = { conditions: [] as string[], mainFields: ['main'] };

const entries = new Map<string, URL | undefined>();

/**
 * The URL a worker thread should load for a worker entry written in TypeScript (`sourceUrl`, a
 * `file:` URL of a .ts file): a compiled copy in `<checkout>/node_modules/.cache/vireo/`, built once
 * per process (≈ 50 ms, synchronously: esbuild's build with plugins is asynchronous only, so package
 * imports stay bare and resolve through the checkout's node_modules from there). Undefined when that
 * is impossible (no esbuild, no writable cache): the caller boots tsx in the worker instead.
 */
export function workerEntryUrl(sourceUrl: URL): URL | undefined {
  if (entries.has(sourceUrl.href)) return entries.get(sourceUrl.href);
  // bin/vireo.js compiled the worker entries with the rest of the sources (bin/source-bundle.js).
  const name = sourceUrl.pathname.slice(sourceUrl.pathname.lastIndexOf('/') + 1).replace(/\.ts$/, '');
  const prebuilt = (globalThis as Record<symbol, Record<string, string> | undefined>)[Symbol.for('vireo.compiledWorkerEntries')]?.[name];
  if (prebuilt) {
    entries.set(sourceUrl.href, pathToFileURL(prebuilt));
    return entries.get(sourceUrl.href);
  }
  let url: URL | undefined;
  try {
    const source = fileURLToPath(sourceUrl);
    const root = findCheckout(dirname(source));
    if (root) {
      const esbuild = loadEsbuild();
      if (!esbuild) throw new Error('esbuild is not installed');
      const dir = join(root, 'node_modules', '.cache', 'vireo');
      const result = esbuild.buildSync({
        entryPoints: [source], bundle: true, write: false, format: 'esm', platform: 'node', target: TARGET,
        packages: 'external', logLevel: 'silent', ...NODE_RESOLUTION,
        // Backends a worker imports on demand stay separate chunks: a handler's worker never loads onnxruntime.
        splitting: true, outdir: dir, entryNames: '[name]-[hash]', chunkNames: 'chunk-[hash]', outExtension: { '.js': '.mjs' },
        // Worker-side code names no file relative to itself; keep any use pointing at the source file.
        define: { 'import.meta.url': JSON.stringify(sourceUrl.href) },
      });
      // Every name carries its content's hash: an existing file is the same file, and a stale one is never loaded.
      mkdirSync(dir, { recursive: true });
      for (const output of result.outputFiles) {
        if (existsSync(output.path)) continue;
        // Written aside and renamed: processes starting at once never load a half-written file.
        const partial = `${output.path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
        writeFileSync(partial, output.contents);
        renameSync(partial, output.path);
      }
      const entry = result.outputFiles.find((output) => output.path.slice(output.path.lastIndexOf('/') + 1).startsWith(`${name}-`));
      if (entry) url = pathToFileURL(entry.path);
    }
  } catch {
    url = undefined;
  }
  entries.set(sourceUrl.href, url);
  return url;
}

/**
 * A worker thread running `entryUrl`, the .ts entry from source or the .js one from a build. From
 * source it loads the compiled copy (`workerEntryUrl`: no loader-hooks thread per worker); only without
 * esbuild does it register tsx's loader itself (loader hooks are per thread in Node 20).
 */
export function spawnWorkerEntry(entryUrl: URL, options: WorkerOptions = {}): Worker {
  const compiled = entryUrl.pathname.endsWith('.ts') ? workerEntryUrl(entryUrl) : entryUrl;
  if (compiled) return new Worker(compiled, options);
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entryUrl.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

/** The checkout holding `dir`: the nearest ancestor with node_modules/esbuild. */
function findCheckout(dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'node_modules', 'esbuild', 'package.json'))) return at;
    if (dirname(at) === at) return undefined;
  }
}

let esbuildModule: Esbuild | null | undefined;

/**
 * esbuild, loaded synchronously (worker threads are spawned from synchronous code, PoolWorker's
 * constructor), or undefined where it is not installed (an image: handlers there are compiled already).
 */
export function loadEsbuild(): Esbuild | undefined {
  if (esbuildModule === undefined) {
    // Without ESBUILD_WORKER_THREADS=0 (read once, as esbuild loads) its synchronous API keeps a worker
    // thread of its own — one more V8 isolate for the life of the process; with it, each synchronous call
    // runs the compiler as a short-lived child process instead.
    const before = process.env.ESBUILD_WORKER_THREADS;
    process.env.ESBUILD_WORKER_THREADS = '0';
    try {
      esbuildModule = createRequire(import.meta.url)('esbuild') as Esbuild;
    } catch {
      esbuildModule = null;
    } finally {
      if (before === undefined) delete process.env.ESBUILD_WORKER_THREADS;
      else process.env.ESBUILD_WORKER_THREADS = before;
    }
  }
  return esbuildModule ?? undefined;
}
