/**
 * Writes a reproducible build context for a Vireo image:
 *
 *   <ctx>/Containerfile       (containerfile.ts)
 *   <ctx>/prune.mjs           run in the builder stage (prune-script.ts)
 *   <ctx>/app/                package.json, the pinned package-lock.json, dist/, the run-time assets the
 *                             package publishes (bin/, proto/) and the production node_modules named by
 *                             the lockfile (dev-only packages left out)
 *   <ctx>/models/<model>/     the repository, or only the chosen models; handler models compiled to
 *                             model.mjs (handler-compiler.ts)
 *
 * No registry is reachable inside the build, so the context carries every file the image needs: the
 * production dependencies are copied from the installed tree, exactly the packages the lockfile pins that the
 * server needs at run time: tsx (with esbuild) loads TypeScript in a development checkout only, and handler
 * models reach the image compiled, so neither is copied; nor are the dependencies of install scripts and
 * command-line tools (prune-list.ts, INSTALL_ONLY_DEPENDENCIES). The JavaScript of dist/ and node_modules/ is
 * written without comments and layout whitespace (js-minifier.ts).
 * Reproducible: entries are written in sorted order, every file gets mode 0644 (0755 when executable) and one
 * fixed mtime, and a digest over paths, modes and contents identifies the context.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { renderContainerfile, renderModelsContainerfile, type ContainerfileOptions } from './containerfile.js';
import type { ModelSummary } from './model-inventory.js';
import { PackagingError } from './packaging-error.js';
import { PRUNE_SCRIPT } from './prune-script.js';
import { BUILD_ONLY_DEPENDENCIES, INSTALL_ONLY_DEPENDENCIES, NOT_IN_IMAGE } from './prune-list.js';
import { compileHandlerModel, dropHandlerSources } from './handler-compiler.js';
import { minifyJavaScript } from './js-minifier.js';
import { readModelConfig } from '../repository/config-file.js';
import { makeDirectories } from '../core/make-directories.js';

const run = promisify(execFile);

/** 1980-01-01: the earliest time every archive format (zip included) can store. */
export const DEFAULT_EPOCH = 315532800;

export interface BuildContextOptions extends Omit<ContainerfileOptions, 'models'> {
  /** The Vireo package to put in the image (the directory holding package.json). */
  packageRoot: string;
  modelRepository: string;
  models: ModelSummary[];
  /** Where to write the context; must be absent or empty. */
  contextDir: string;
  /** Only the repository (a model image for KServe's oci:// modelcars): no Vireo, no node. */
  modelsOnly?: boolean;
  /** mtime of every file, seconds since the epoch (SOURCE_DATE_EPOCH when set). */
  epoch: number;
  onStep?: (message: string) => void;
}

export interface BuildContext {
  dir: string;
  containerfile: string;
  /** sha256 over every path, mode and content: equal inputs give an equal digest. */
  digest: string;
  files: number;
  bytes: number;
}

// onnxruntime-node's bin/napi-vN/<platform>/<arch>/ files for anything but linux/x64.
const FOREIGN_ORT_BINARY = /^bin\/napi-v\d+\/(?!linux\/x64\/)/;

interface LockPackage {
  dev?: boolean; optional?: boolean; link?: boolean;
  dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string>;
}

export { BUILD_ONLY_DEPENDENCIES };

/** Where node would find `name` from the package at `from` (a lockfile path): the nearest node_modules up. */
function resolveInLock(packages: Record<string, LockPackage>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/**
 * The lockfile paths reachable from the root's dependencies, leaving out NOT_IN_IMAGE, the
 * dependencies packages use only to install or in their command-line tools (INSTALL_ONLY_DEPENDENCIES), and
 * what only those need.
 */
function reachable(packages: Record<string, LockPackage>): Set<string> {
  const root = packages[''] ?? {};
  const seen = new Set<string>();
  const queue: [string, string][] = Object.keys({ ...root.dependencies, ...root.optionalDependencies })
    .filter((name) => !NOT_IN_IMAGE.has(name)).map((name) => ['', name]);
  while (queue.length > 0) {
    const [from, name] = queue.pop()!;
    const path = resolveInLock(packages, from, name);
    if (!path || seen.has(path)) continue;
    seen.add(path);
    const entry = packages[path]!;
    const installOnly = INSTALL_ONLY_DEPENDENCIES[path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)] ?? [];
    for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies })) {
      if (!installOnly.includes(dep)) queue.push([path, dep]);
    }
  }
  return seen;
}

/** Walks a directory in sorted order, yielding file paths (symlinks are resolved to what they point to). */
async function* walk(dir: string): AsyncGenerator<string> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const info = entry.isSymbolicLink() ? await stat(path) : entry;
    if (info.isDirectory()) yield* walk(path);
    else if (info.isFile()) yield path;
  }
}

async function copyTree(from: string, to: string, skip: (rel: string) => boolean = () => false): Promise<void> {
  for await (const file of walk(from)) {
    const rel = relative(from, file);
    if (skip(rel)) continue;
    await mkdir(dirname(join(to, rel)), { recursive: true });
    await copyFile(file, join(to, rel));
  }
}

/** The production packages of the lockfile: every installed entry not marked dev-only. */
async function productionPackages(packageRoot: string): Promise<string[]> {
  const lockPath = join(packageRoot, 'package-lock.json');
  if (!existsSync(lockPath)) throw new PackagingError(`${lockPath} is missing: vireo build pins dependencies with the lockfile`);
  const lock = JSON.parse(await readFile(lockPath, 'utf8')) as { lockfileVersion?: number; packages?: Record<string, LockPackage> };
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) throw new PackagingError(`${lockPath}: lockfile version 2 or 3 required (npm 7+)`);
  const paths: string[] = [];
  const needed = reachable(lock.packages);
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev || entry.link || !path.startsWith('node_modules/') || !needed.has(path)) continue;
    const installed = join(packageRoot, ...path.split('/'));
    if (!existsSync(installed)) {
      if (entry.optional) continue; // an optional dependency for another platform
      throw new PackagingError(`production dependency ${path} is not installed: run npm ci first`);
    }
    paths.push(path);
  }
  return paths.sort();
}

/**
 * What the package publishes besides code: package.json `files` minus sources, dist/ (compiled separately),
 * tools and documents — bin/ and data the server reads at run time, such as the gRPC protos in proto/.
 */
async function runtimeAssets(packageRoot: string): Promise<string[]> {
  const manifest = JSON.parse(await readFile(join(packageRoot, 'package.json'), 'utf8')) as { files?: string[] };
  const assets = (manifest.files ?? ['bin'])
    .map((f) => f.replace(/^\.\//, '').replace(/\/+$/, ''))
    .filter((f) => !/^(src|dist|tools)(\/|$)/.test(f) && !f.endsWith('.md') && existsSync(join(packageRoot, f)))
    .sort();
  if (!assets.includes('bin')) throw new PackagingError(`${packageRoot}/package.json: "files" must include bin`);
  return assets;
}

/** Compiles src/ into dist/ of the context when the sources and tsc are there; an installed package ships dist/. */
async function compile(packageRoot: string, appDir: string): Promise<void> {
  const tsc = join(packageRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const tsconfig = join(packageRoot, 'tsconfig.json');
  if (existsSync(join(packageRoot, 'src')) && existsSync(tsc) && existsSync(tsconfig)) {
    try {
      await run(process.execPath, [tsc, '-p', tsconfig, '--outDir', join(appDir, 'dist'), '--sourceMap', 'false', '--declaration', 'false'], { cwd: packageRoot, maxBuffer: 16 << 20 });
    } catch (error) {
      const output = (error as { stdout?: string }).stdout ?? (error as Error).message;
      throw new PackagingError(`compiling Vireo (tsc) failed:\n${output}`);
    }
    return;
  }
  const dist = join(packageRoot, 'dist');
  if (!existsSync(join(dist, 'cli', 'main.js'))) throw new PackagingError(`${dist}/cli/main.js is missing: run npm run build first`);
  await copyTree(dist, join(appDir, 'dist'), (rel) => rel.endsWith('.map') || rel.endsWith('.d.ts'));
}

/** Fixes modes and mtimes and computes the digest, in sorted order. */
async function normalise(dir: string, epoch: number): Promise<{ digest: string; files: number; bytes: number }> {
  const hash = createHash('sha256');
  let files = 0;
  let bytes = 0;
  const dirs = new Set<string>();
  for await (const file of walk(dir)) {
    const info = await stat(file);
    const mode = info.mode & 0o111 ? 0o755 : 0o644;
    await chmod(file, mode);
    await utimes(file, epoch, epoch);
    const rel = relative(dir, file).split(sep).join('/');
    hash.update(`${rel}\0${mode.toString(8)}\0${info.size}\0`);
    hash.update(await readFile(file));
    files += 1;
    bytes += info.size;
    for (let d = dirname(file); d.length > dir.length; d = dirname(d)) dirs.add(d);
  }
  for (const d of [...dirs, dir]) {
    await chmod(d, 0o755);
    await utimes(d, epoch, epoch);
  }
  return { digest: hash.digest('hex'), files, bytes };
}

/** app/: package.json, the lockfile, run-time assets, dist/ and the production packages the server needs. */
async function writeApplication(packageRoot: string, appDir: string, onStep: (message: string) => void): Promise<void> {
  const assets = await runtimeAssets(packageRoot);
  onStep(`copying package.json, the lockfile, ${assets.join(', ')}`);
  await mkdir(appDir, { recursive: true });
  for (const file of ['package.json', 'package-lock.json', 'LICENSE']) {
    if (existsSync(join(packageRoot, file))) await copyFile(join(packageRoot, file), join(appDir, file));
  }
  for (const asset of assets) {
    const from = join(packageRoot, asset);
    if ((await stat(from)).isDirectory()) await copyTree(from, join(appDir, asset));
    else {
      await mkdir(dirname(join(appDir, asset)), { recursive: true });
      await copyFile(from, join(appDir, asset));
    }
  }
  onStep('compiling Vireo into dist/');
  await compile(packageRoot, appDir);
  const packages = await productionPackages(packageRoot);
  onStep(`copying ${packages.length} production packages pinned by package-lock.json`);
  for (const path of packages) {
    // A nested package (node_modules/a/node_modules/b) is copied on its own entry; skip it inside its parent.
    // onnxruntime binaries for other platforms stay out of the context already (the builder stage prunes
    // again, so a context written by other means is still pruned).
    await copyTree(join(packageRoot, ...path.split('/')), join(appDir, ...path.split('/')),
      (rel) => rel.split(sep).includes('node_modules') || (path === 'node_modules/onnxruntime-node' && FOREIGN_ORT_BINARY.test(rel.split(sep).join('/'))));
  }
  for (const dir of ['dist', 'node_modules']) {
    const minified = await minifyJavaScript(join(appDir, dir));
    onStep(`minified the JavaScript of ${dir}/: ${minified.minified} of ${minified.files} files, ${(minified.bytesBefore / 1e6).toFixed(1)} → ${(minified.bytesAfter / 1e6).toFixed(1)} MB (js-minifier.ts)`);
  }
}

export async function writeBuildContext(options: BuildContextOptions): Promise<BuildContext> {
  const { packageRoot, contextDir: dir, onStep = () => {} } = options;
  if (existsSync(dir) && (await readdir(dir)).length > 0) throw new PackagingError(`context directory ${dir} is not empty`);
  await makeDirectories(dir).catch((error: Error) => {
    throw new PackagingError(`context directory ${dir} cannot be made: ${error.message}`);
  });
  try {
    if (!options.modelsOnly) await writeApplication(packageRoot, join(dir, 'app'), onStep);
    onStep(`copying ${options.models.length} model(s): ${options.models.map((m) => m.name).join(', ')}`);
    for (const model of options.models) await copyTree(join(options.modelRepository, model.name), join(dir, 'models', model.name));
    for (const model of options.models.filter((m) => m.format === 'vireo')) {
      const { config } = await readModelConfig(join(options.modelRepository, model.name));
      const compiled = await compileHandlerModel(join(dir, 'models', model.name), model.name, config.default_model_filename);
      onStep(`compiled handler model ${model.name} to model.mjs (${compiled} version${compiled === 1 ? '' : 's'})`);
    }
    for (const model of options.models.filter((m) => m.format === 'vireo')) await dropHandlerSources(join(dir, 'models', model.name));
    const containerfile = options.modelsOnly ? renderModelsContainerfile({ ...options, models: options.models }) : renderContainerfile({ ...options, models: options.models });
    await writeFile(join(dir, 'Containerfile'), containerfile);
    if (!options.modelsOnly) await writeFile(join(dir, 'prune.mjs'), PRUNE_SCRIPT);
    onStep('fixing modes and timestamps');
    const summary = await normalise(dir, options.epoch);
    return { dir, containerfile: join(dir, 'Containerfile'), ...summary };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
