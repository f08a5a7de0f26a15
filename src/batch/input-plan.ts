/**
 * `--input` values → sources. A file's format comes from its extension (or `--input-format`); a
 * folder or a glob becomes one image source of the files it matches (sorted by path relative to the
 * folder, or to the glob's base: the same ids from any working directory), or, when they are data
 * files, one source per file. Symbolic links are followed (see withoutCycles). The order of sources
 * (and so the `f<n>` of part names) follows the order of `--input` values, then file names:
 * deterministic for every shard.
 */
import { realpath, stat } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import { VireoError } from '../core/errors.js';

export const INPUT_FORMATS = ['jsonl', 'csv', 'parquet', 'arrow', 'images'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

const EXTENSIONS: Record<string, InputFormat> = {
  '.jsonl': 'jsonl', '.ndjson': 'jsonl',
  '.csv': 'csv',
  '.parquet': 'parquet', '.pq': 'parquet',
  '.arrow': 'arrow', '.arrows': 'arrow', '.ipc': 'arrow', '.feather': 'arrow',
  '.png': 'images', '.jpg': 'images', '.jpeg': 'images', '.webp': 'images', '.gif': 'images',
  '.tif': 'images', '.tiff': 'images', '.bmp': 'images', '.avif': 'images',
};

export type PlannedInput =
  | { kind: 'file'; path: string; format: Exclude<InputFormat, 'images'> }
  | { kind: 'images'; path: string; files: { absolute: string; relative: string }[] };

const invalid = (message: string): never => {
  throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', message);
};

function formatOf(path: string, forced: InputFormat | undefined): InputFormat {
  if (forced) return forced;
  const format = EXTENSIONS[extname(path).toLowerCase()];
  if (!format) return invalid(`${path}: unknown input format (extension "${extname(path)}"); name it with --input-format (${INPUT_FORMATS.join(', ')})`);
  return format;
}

/**
 * A glob's base, the folder before its first glob character (`/data/scans/*.png` → `/data/scans`),
 * and the rest of it, to match from there: ids are relative to the base whatever the working directory.
 */
function globBase(pattern: string): { base: string; rest: string } {
  const slash = pattern.lastIndexOf('/', pattern.search(/[*?[\]{}()!]/));
  return slash < 0 ? { base: process.cwd(), rest: pattern } : { base: resolve(pattern.slice(0, slash + 1)), rest: pattern.slice(slash + 1) };
}

const within = (path: string, folder: string) => path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep);

/**
 * The matches (relative to `base`, found following links) without those reached through a linked
 * folder that leads back into the input's folder, to a folder above it, or to a folder the path has
 * already passed through: those are cycles, or files already listed under their own path, so nothing
 * is lost. A link to a file, or to a folder elsewhere, is read as what it leads to, under the link's
 * path (its id).
 */
async function withoutCycles(base: string, matches: string[]): Promise<string[]> {
  const root = await realpath(base);
  const real = new Map<string, Promise<string>>([['.', Promise.resolve(root)]]);
  const realOf = (folder: string): Promise<string> => {
    let known = real.get(folder);
    if (!known) real.set(folder, known = realpath(join(base, folder)));
    return known;
  };
  const kept: string[] = [];
  next: for (const match of matches) {
    const folders: string[] = [];
    for (let folder = dirname(match); folder !== '.'; folder = dirname(folder)) folders.unshift(folder);
    const passed = [root];
    for (const folder of folders) {
      const [target, parent] = await Promise.all([realOf(folder), realOf(dirname(folder))]);
      // A folder is a link when its real path is not its real parent's + its name.
      const linked = target !== join(parent, folder.slice(folder.lastIndexOf('/') + 1));
      if (linked && (within(target, root) || within(root, target) || passed.some((p) => within(p, target)))) continue next;
      passed.push(target);
    }
    kept.push(match);
  }
  return kept;
}

export async function planInputs(values: readonly string[], forced?: InputFormat): Promise<PlannedInput[]> {
  if (values.length === 0) invalid('no --input given');
  const planned: PlannedInput[] = [];
  for (const value of values) {
    const info = await stat(value).catch(() => undefined);
    if (info?.isFile()) {
      const format = formatOf(value, forced);
      if (format === 'images') planned.push({ kind: 'images', path: value, files: [{ absolute: resolve(value), relative: value }] });
      else planned.push({ kind: 'file', path: resolve(value), format: checkedData(value, format, info.size) });
      continue;
    }
    let base: string;
    let matches: string[];
    if (info?.isDirectory()) {
      base = resolve(value);
      matches = await withoutCycles(base, await glob('**/*', { cwd: base, onlyFiles: true, dot: false, followSymbolicLinks: true }));
    } else if (isDynamicPattern(value)) {
      const { base: from, rest } = globBase(value);
      base = from;
      matches = await withoutCycles(base, await glob(rest, { cwd: base, onlyFiles: true, dot: false, followSymbolicLinks: true }));
    } else if (info) {
      // A device, a FIFO or a socket: its size says nothing of what it holds, and reading it may never end.
      return invalid(`${value}: not a regular file or folder`);
    } else {
      return invalid(`${value}: no such file, folder or glob match`);
    }
    matches.sort();
    if (matches.length === 0) invalid(`${value}: matches no files`);
    const files = matches.map((m) => ({ absolute: resolve(base, m), relative: relative(base, resolve(base, m)) }));
    const formats = new Set(files.map((f) => formatOf(f.relative, forced)));
    if (formats.size > 1) invalid(`${value}: mixes formats (${[...formats].join(', ')}); give one --input per format`);
    const [format] = formats;
    if (format === 'images') planned.push({ kind: 'images', path: value, files });
    else for (const f of files) planned.push({ kind: 'file', path: f.absolute, format: checkedData(f.absolute, format as Exclude<InputFormat, 'images'>, (await stat(f.absolute)).size) });
  }
  return planned;
}

/**
 * An empty Parquet or Arrow file is refused by name here: Parquet's reader would only say an offset is
 * out of bounds, and Arrow's would read it as no rows at all (neither format has an empty file: both
 * hold at least a schema).
 */
function checkedData<F extends Exclude<InputFormat, 'images'>>(path: string, format: F, bytes: number): F {
  if (format === 'parquet' && bytes === 0) invalid(`${path}: an empty file (0 bytes) is not a Parquet file`);
  if (format === 'arrow' && bytes === 0) invalid(`${path}: an empty file (0 bytes) is not an Arrow IPC file or stream`);
  return format;
}
