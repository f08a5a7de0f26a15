/**
 * Compiles handler models (`backend: typescript`: a `<version>/model.ts` or `model.js` with its local
 * imports) into one ES module, `<version>/model.mjs`, when a repository goes into an image. The server
 * imports a model.mjs natively, so an image carries and runs no compiler: neither tsx nor esbuild ships.
 *
 * esbuild (a dependency of tsx, present wherever `vireo build` runs) bundles the handler's relative imports
 * and leaves every package import (`sharp`, `apache-arrow`, node:*) external: the image resolves those
 * through its /node_modules link, as before. Type-only imports (e.g. of Vireo's handler API) disappear.
 * Files the handler reads at run time (dictionaries, weights) stay beside model.mjs, so paths relative to
 * the version directory keep working; the TypeScript sources are dropped.
 */
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PackagingError } from './packaging-error.js';

/** Entry files the server looks for, in its order (src/repository/model-loader.ts). */
const ENTRIES = ['model.ts', 'model.js'];
export const COMPILED_ENTRY = 'model.mjs';
const TYPESCRIPT = /\.(ts|mts|cts)$/;

/** The oldest Node the image's runtime supports (package.json engines). */
const TARGET = 'node22';

async function compileVersion(dir: string, label: string): Promise<boolean> {
  const entry = ENTRIES.find((file) => existsSync(join(dir, file)));
  if (!entry) return false;
  if (existsSync(join(dir, COMPILED_ENTRY))) throw new PackagingError(`${label}: both ${entry} and ${COMPILED_ENTRY} exist; keep one`);
  // Sources are dropped only after every model is compiled (dropHandlerSources).
  const { build } = await import('esbuild');
  try {
    await build({
      // absWorkingDir: esbuild names each bundled file in a comment relative to it; relative to the version
      // directory those names are the same in every build context, so the image stays reproducible.
      absWorkingDir: dir, entryPoints: [join(dir, entry)], outfile: join(dir, COMPILED_ENTRY), bundle: true, packages: 'external',
      format: 'esm', platform: 'node', target: TARGET, logLevel: 'silent', legalComments: 'inline', sourcemap: false,
    });
  } catch (error) {
    const messages = (error as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors ?? [];
    const detail = messages.map((m) => `  ${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`).join('\n') || (error as Error).message;
    throw new PackagingError(`${label}: compiling ${entry} failed:\n${detail}`);
  }
  return true;
}

/**
 * Drops the sources compiled into model.mjs (TypeScript files, and a model.js entry) from a handler
 * model's versions. Run once every model of the context is compiled: a handler may import another
 * model's code (ocr_stream imports ../../ocr/1/model.ts), which must still be there when it is bundled.
 */
export async function dropHandlerSources(modelDir: string): Promise<void> {
  for (const version of await readdir(modelDir, { withFileTypes: true })) {
    if (!version.isDirectory() || !/^\d+$/.test(version.name)) continue;
    const dir = join(modelDir, version.name);
    if (!existsSync(join(dir, COMPILED_ENTRY))) continue;
    for (const file of await readdir(dir, { recursive: true })) {
      if (TYPESCRIPT.test(file) || file === 'model.js') await rm(join(dir, file), { force: true });
    }
  }
}

/**
 * Compiles every version of a handler model copied to `modelDir`, in place. A configuration naming its own
 * model file is refused when that file is TypeScript: the image could not load it.
 */
export async function compileHandlerModel(modelDir: string, model: string, defaultModelFilename?: string): Promise<number> {
  if (defaultModelFilename !== undefined && defaultModelFilename !== COMPILED_ENTRY && /\.(ts|js)$/.test(defaultModelFilename)) {
    throw new PackagingError(`model ${model}: default_model_filename ${defaultModelFilename} would name an uncompiled file in the image; leave it out (vireo build writes ${COMPILED_ENTRY})`);
  }
  let compiled = 0;
  for (const entry of await readdir(modelDir, { withFileTypes: true })) {
    if (entry.isDirectory() && /^\d+$/.test(entry.name) && await compileVersion(join(modelDir, entry.name), `model ${model} version ${entry.name}`)) compiled += 1;
  }
  return compiled;
}
