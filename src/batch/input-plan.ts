/**
 * `--input` values → sources. A file's format comes from its extension (or `--input-format`); a
 * folder or a glob becomes one image source of the files it matches (sorted by path relative to the
 * folder, or to the glob's base: the same ids from any working directory), or, when they are data
 * files, one source per file. Symbolic links are followed (see withoutCycles); one that leads nowhere
 * refuses its input (see filesUnder). The order of sources (and so the `f<n>` of part names) follows
 * the order of `--input` values, then file names: deterministic for every shard.
 */
import { lstat as lstatCallback, realpath as realpathCallback, stat as statCallback } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { glob, isDynamicPattern, type FileSystemAdapter } from 'tinyglobby';
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

/** The backslashes of escaped glob characters, as tinyglobby reads them (its ESCAPING_BACKSLASHES). */
const ESCAPES = /\\(?=[()[\]{}!*+?@|])/g;

const isFolder = (path: string) => stat(path).then((info) => info.isDirectory(), () => false);

/**
 * Whether an --input that is no file or folder is a glob: when it is one as a whole or in one of its
 * segments. (picomatch's scan of a whole pattern stops at a brace that is not a glob: `set {1}/*.png`
 * scans as no glob at all; a brace list may hold a slash, `{a/b,c}`, and then no segment is one.)
 */
const isGlob = (value: string) => isDynamicPattern(value) || value.split('/').some((segment) => isDynamicPattern(segment));

/** An unescaped `{`: a brace list may span a slash (`{a/b,c}`), so a segment holding one is no name by syntax alone. */
const OPEN_BRACE = /(^|[^\\])\{/;

/**
 * A glob's base, the folder it matches from (`/data/scans/*.png` → `/data/scans`), and the rest of
 * it, to match from there: ids are relative to the base whatever the working directory. The base is
 * the leading folders that are not glob syntax, segment by segment as tinyglobby sees it
 * (isDynamicPattern: `x!y` or `a,b` is a name, `scans \(2024\)` the escaped name `scans (2024)`), or
 * that exist as written: `/data/scans (2024)/*.png` is the folder `scans (2024)`, as a whole --input
 * that exists is taken as written before it is taken as a glob. (picomatch reads `(2024)` as a group
 * and `[raw]` as a class, which match neither name; the base goes to the glob as its cwd, a path, so
 * its characters never reach the matcher.) A segment is only a glob when neither holds, and one with
 * a `{` is taken as written only when it exists: a brace list that spans a slash (`{a/b,c}`) starts
 * the glob at its `{` segment, as it must.
 */
async function globBase(pattern: string): Promise<{ base: string; rest: string }> {
  const segments = pattern.split('/');
  const folders: string[] = [];
  let i = 0;
  for (; i < segments.length - 1; i++) {
    const segment = segments[i]!;
    const name = !isDynamicPattern(segment) && !OPEN_BRACE.test(segment);
    if (!name && !(segment !== '' && await isFolder([...folders, segment].join('/') || '/'))) break;
    folders.push(name ? segment.replace(ESCAPES, '') : segment);
  }
  const rest = segments.slice(i).join('/');
  if (folders.length === 0) return { base: process.cwd(), rest };
  return { base: resolve(folders.join('/') || '/'), rest };
}

/**
 * tinyglobby's file system with links it cannot follow kept as matches instead of dropped. Its crawler
 * (fdir) follows a link with realpath then stat, and drops the link silently when either fails: a link
 * whose target is gone (or that loops) vanished from the job without a word. Here such a link is
 * resolved to itself and its stat is the link's own (lstat: not a folder), so the glob's own matching
 * (pattern, dot files) decides whether it is one of the input's files; `broken` collects it with why.
 */
function keepingBrokenLinks(broken: Map<string, string>): FileSystemAdapter {
  type Done<T> = (error: NodeJS.ErrnoException | null, value: T) => void;
  const followed = (path: string, done: Done<string>) => realpathCallback(path, (error, resolved) => {
    if (!error) return done(null, resolved);
    broken.set(resolve(path), error.code ?? error.message);
    done(null, path);
  });
  const statted = (path: string, done: Done<unknown>) => (broken.has(resolve(path)) ? lstatCallback : statCallback)(path, done);
  return { realpath: followed as unknown as FileSystemAdapter['realpath'], stat: statted as unknown as FileSystemAdapter['stat'] };
}

/**
 * The files `pattern` matches under `base` (links followed, cycles dropped: withoutCycles). A link
 * among them that leads nowhere refuses the input, naming it: it is one of the input's files (the user
 * put it there), and dropped it would be rows silently missing from the output. Not a failed row
 * either: for a data file there is no row to fail, and for an image the job would run to its end
 * before its errors file said so; refused here, before any model loads, the fix (remove the link or
 * restore its target) costs a rerun of nothing.
 */
async function filesUnder(value: string, base: string, pattern: string): Promise<string[]> {
  const broken = new Map<string, string>();
  const matches = await withoutCycles(base, await glob(pattern, { cwd: base, onlyFiles: true, dot: false, followSymbolicLinks: true, fs: keepingBrokenLinks(broken) }));
  const dangling = matches.filter((m) => broken.has(resolve(base, m))).sort();
  if (dangling.length > 0) {
    const named = dangling.slice(0, 5).map((m) => `${m} (${broken.get(resolve(base, m))})`).join(', ');
    invalid(`${value}: ${dangling.length === 1 ? 'a symbolic link that leads' : `${dangling.length} symbolic links that lead`} to nothing readable: ${named}${dangling.length > 5 ? ', …' : ''}; remove ${dangling.length === 1 ? 'it' : 'them'} or restore what ${dangling.length === 1 ? 'it leads' : 'they lead'} to`);
  }
  return matches;
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
      matches = await filesUnder(value, base, '**/*');
    } else if (isGlob(value)) {
      const { base: from, rest } = await globBase(value);
      base = from;
      matches = await filesUnder(value, base, rest);
    } else if (info) {
      // A device, a FIFO or a socket: its size says nothing of what it holds, and reading it may never end.
      return invalid(`${value}: not a regular file or folder`);
    } else if ((await lstat(value).catch(() => undefined))?.isSymbolicLink()) {
      return invalid(`${value}: a symbolic link that leads to nothing readable`);
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
