// Running from a development checkout: Vireo's TypeScript sources compiled to plain JavaScript with
// esbuild (a dependency of tsx), cached under node_modules/.cache/vireo/ and rebuilt whenever a source
// file changes, so a stale build can never shadow the sources.
//
// Why not tsx, as before: on Node 20 tsx's module.register puts every import — Vireo's ≈ 200 files and
// the ≈ 3,000 of its packages — through loader hooks running in a thread of their own (another V8
// isolate). Measured on `vireo serve` with an empty repository: ≈ 30 MiB and ≈ 1 CPU-second of start-up
// (README, "Many models per server"). The worker entries are compiled in the same build (shared chunks)
// and handed to src/core/esm-bundle.ts, so worker threads load plain JavaScript too.
//
// `import.meta.url`, `.dirname` and `.filename` are written as the literals of each source file, so
// files found relative to a source (proto/, web/console/, package.json) are found as before, and the
// worker hosts still know they run from source. Linked source maps are written beside the output: run
// with `node --enable-source-maps` for stack traces in TypeScript lines.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ENTRIES = { main: 'src/cli/main.ts', 'pool-worker': 'src/backends/pool-worker.ts', 'instance-worker': 'src/backends/instance-worker.ts', 'job-thread': 'src/protocols/openai-batch/job-thread.ts', 'handler-thread': 'src/backends/handler/handler-thread.ts' };
const LOADERS = { ts: 'ts', mts: 'ts', cts: 'ts', js: 'js', mjs: 'js', cjs: 'js' };
/** Read by src/core/esm-bundle.ts: the compiled worker entries, by name. */
export const WORKER_ENTRIES = Symbol.for('vireo.compiledWorkerEntries');

function stamp(path) {
  const s = statSync(path, { throwIfNoEntry: false });
  return s ? `${s.size}:${s.mtimeMs}` : 'missing';
}

function pinImportMeta(source, path) {
  return source
    .replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(path).href))
    .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(dirname(path)))
    .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(path));
}

/** The cached build if every input still has the size and mtime it was built from. */
function cached(manifestPath) {
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (manifest.node !== process.versions.node) return undefined;
    for (const [path, was] of Object.entries(manifest.inputs)) if (stamp(path) !== was) return undefined;
    for (const file of Object.values(manifest.entries)) if (!existsSync(file)) return undefined;
    return manifest.entries;
  } catch {
    return undefined;
  }
}

function writeAtomically(path, contents) {
  const partial = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(partial, contents);
  renameSync(partial, path);
}

/** A day: a server still running an older build may yet import one of its chunks. */
const KEEP_OLD_BUILDS_MS = 24 * 60 * 60 * 1000;

/** Drops files of earlier builds once they are a day old, so edits do not pile builds up. */
function pruneOldBuilds(dir, current) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (current.has(path)) continue;
    try {
      if (Date.now() - statSync(path).mtimeMs > KEEP_OLD_BUILDS_MS) unlinkSync(path);
    } catch {
      // another process pruned it first
    }
  }
}

/**
 * The compiled entries ({ main, 'pool-worker', 'instance-worker', 'job-thread', 'handler-thread' } → file path), building them when a
 * source changed; undefined when esbuild is missing or the build fails (the caller then uses tsx, which
 * reports a broken source as it always did).
 */
export async function compiledSources(rootUrl) {
  const root = fileURLToPath(rootUrl);
  // One directory per checkout: checkouts sharing a node_modules (a symlinked one) never run each other's build.
  const dir = join(root, 'node_modules', '.cache', 'vireo', `cli-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`);
  const manifestPath = join(dir, 'manifest.json');
  const hit = cached(manifestPath);
  if (hit) return hit;
  let esbuild;
  try {
    esbuild = createRequire(join(root, 'package.json'))('esbuild');
  } catch {
    return undefined;
  }
  try {
    const result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: Object.entries(ENTRIES).map(([out, src]) => ({ in: src, out })),
      bundle: true, write: false, format: 'esm', platform: 'node', target: `node${process.versions.node.split('.')[0]}`,
      packages: 'external', splitting: true, outdir: dir, entryNames: '[name]-[hash]', chunkNames: 'chunk-[hash]',
      outExtension: { '.js': '.mjs' }, sourcemap: 'linked', metafile: true, logLevel: 'silent',
      plugins: [{
        name: 'vireo-import-meta',
        setup(build) {
          build.onLoad({ filter: /\.[cm]?[jt]s$/ }, async (args) => {
            const source = await readFile(args.path, 'utf8');
            if (!source.includes('import.meta')) return undefined;
            return { contents: pinImportMeta(source, args.path), loader: LOADERS[args.path.slice(args.path.lastIndexOf('.') + 1)] ?? 'js', resolveDir: dirname(args.path) };
          });
        },
      }],
    });
    mkdirSync(dir, { recursive: true });
    // Every name carries its content's hash: an existing file is the same file.
    for (const output of result.outputFiles) if (!existsSync(output.path)) writeAtomically(output.path, output.contents);
    const entries = {};
    for (const [out, info] of Object.entries(result.metafile.outputs)) {
      const name = Object.keys(ENTRIES).find((n) => info.entryPoint === ENTRIES[n]);
      if (name) entries[name] = join(root, out);
    }
    const inputs = {};
    for (const input of [...Object.keys(result.metafile.inputs), 'tsconfig.json']) inputs[join(root, input)] = stamp(join(root, input));
    writeAtomically(manifestPath, JSON.stringify({ node: process.versions.node, entries, inputs }));
    pruneOldBuilds(dir, new Set([...result.outputFiles.map((o) => o.path), manifestPath]));
    return entries;
  } catch {
    return undefined;
  } finally {
    await esbuild.stop();
  }
}

