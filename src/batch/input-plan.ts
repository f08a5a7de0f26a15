/**
 * `--input` values → sources. A file's format comes from its extension (or `--input-format`); a
 * folder or a glob becomes one image source of the files it matches (sorted by relative path), or,
 * when they are data files, one source per file. The order of sources (and so the `f<n>` of part
 * names) follows the order of `--input` values, then file names: deterministic for every shard.
 */
import { stat } from 'node:fs/promises';
import { extname, relative, resolve } from 'node:path';
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

export async function planInputs(values: readonly string[], forced?: InputFormat): Promise<PlannedInput[]> {
  if (values.length === 0) invalid('no --input given');
  const planned: PlannedInput[] = [];
  for (const value of values) {
    const info = await stat(value).catch(() => undefined);
    if (info?.isFile()) {
      const format = formatOf(value, forced);
      if (format === 'images') planned.push({ kind: 'images', path: value, files: [{ absolute: resolve(value), relative: value }] });
      else planned.push({ kind: 'file', path: resolve(value), format });
      continue;
    }
    let base: string;
    let matches: string[];
    if (info?.isDirectory()) {
      base = resolve(value);
      matches = await glob('**/*', { cwd: base, onlyFiles: true, dot: false, followSymbolicLinks: false });
    } else if (isDynamicPattern(value)) {
      base = process.cwd();
      matches = await glob(value, { cwd: base, onlyFiles: true, dot: false, followSymbolicLinks: false });
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
    else for (const f of files) planned.push({ kind: 'file', path: f.absolute, format: format as Exclude<InputFormat, 'images'> });
  }
  return planned;
}
