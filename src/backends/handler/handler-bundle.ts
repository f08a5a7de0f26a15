/**
 * Compiles a handler model (`model.ts|js` and its relative imports) on the main thread, before its
 * worker starts, the way `vireo build` compiles it for images (packaging/handler-compiler.ts): one ES
 * module, here a `data:` URL the worker imports natively. The worker then needs neither tsx nor a
 * loader-hooks thread — measured ≈ 35 MiB and two threads less per handler worker (docs/ARCHITECTURE.md,
 * "Execution pool") — and esbuild is loaded once, in the main thread, not in every worker.
 *
 * The module must see what it saw when tsx loaded it in place: package imports are resolved from the
 * importing file's own directory (Node's rules: no "module" condition, "main" only) and written as
 * absolute file URLs; `import.meta.url|dirname|filename` are written as the literals of each original
 * file. An inline source map (no sources) lets stack traces name the original files and lines.
 */
import { readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VireoError } from '../../core/errors.js';
import { loadEsbuild, NODE_RESOLUTION, TARGET } from '../../core/esm-bundle.js';

const BUILTINS = new Set(builtinModules);
const LOADERS: Record<string, 'ts' | 'tsx' | 'js' | 'jsx'> = { ts: 'ts', mts: 'ts', cts: 'ts', tsx: 'tsx', js: 'js', mjs: 'js', cjs: 'js', jsx: 'jsx' };

function isBare(spec: string): boolean {
  return !spec.startsWith('.') && !spec.startsWith('/') && !/^[a-z][a-z0-9+.-]*:/i.test(spec);
}

function pinImportMeta(source: string, path: string): string {
  return source
    .replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(path).href))
    .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(dirname(path)))
    .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(path));
}

/** Builds in flight: esbuild's service process is stopped once none is, so it does not outlive the loads. */
let building = 0;

/**
 * The handler module at `path` compiled into a `data:` URL; undefined for a model.mjs (imported as it
 * is) or where esbuild is not installed (the worker falls back to tsx). A module that does not compile
 * fails the load with esbuild's messages (file:line: text).
 */
export async function compileHandler(path: string): Promise<string | undefined> {
  if (path.endsWith('.mjs')) return undefined;
  const esbuild = loadEsbuild();
  if (!esbuild) return undefined;
  building++;
  try {
    const result = await esbuild.build({
      entryPoints: [path], bundle: true, write: false, format: 'esm', platform: 'node', target: TARGET,
      logLevel: 'silent', sourcemap: 'inline', sourcesContent: false, absWorkingDir: dirname(path), ...NODE_RESOLUTION,
      plugins: [{
        name: 'vireo-node-resolution',
        setup(build) {
          build.onResolve({ filter: /.*/ }, async (args) => {
            if (args.kind === 'entry-point' || !isBare(args.path) || args.pluginData === 'resolving') return undefined;
            if (BUILTINS.has(args.path) || args.path.startsWith('node:')) return { path: args.path, external: true };
            const found = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'resolving' });
            // Unresolvable here: left as written, so Node reports it (or a guarded dynamic import falls back) as before.
            if (found.errors.length > 0 || !found.path) return { path: args.path, external: true };
            return { path: pathToFileURL(found.path).href, external: true };
          });
          build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
            const source = await readFile(args.path, 'utf8');
            if (!source.includes('import.meta')) return undefined;
            return { contents: pinImportMeta(source, args.path), loader: LOADERS[args.path.slice(args.path.lastIndexOf('.') + 1)] ?? 'js', resolveDir: dirname(args.path) };
          });
        },
      }],
    });
    return `data:text/javascript;base64,${Buffer.from(result.outputFiles[0]!.text).toString('base64')}`;
  } catch (error) {
    const messages = (error as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    const detail = messages.map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`).join('; ') || (error as Error).message;
    throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `${path} failed to load: ${detail}`);
  } finally {
    if (--building === 0) await esbuild.stop();
  }
}
