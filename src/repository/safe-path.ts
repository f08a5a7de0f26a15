/**
 * Paths that come from outside (the repository API, warmup file names) resolved so they can only
 * name something inside a given directory: relative, no `.`/`..` segments, no backslashes or NULs,
 * and no escape through a symbolic link (every existing ancestor is checked with realpath).
 */
import { lstat, mkdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import { VireoError } from '../core/errors.js';

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.+=@-]*$/;

/** Splits a relative path into checked segments; `what` names it in the error. */
export function relativeSegments(path: string, what: string): string[] {
  const fail = (why: string): never => {
    throw new VireoError('VIREO_ERR_PATH_INVALID', `${what} "${path}" is not allowed: ${why}`);
  };
  if (path.length === 0 || path.length > 1024) fail('expected a relative path of 1 to 1024 characters');
  if (isAbsolute(path) || path.startsWith('/') || /^[A-Za-z]:/.test(path)) fail('absolute paths are refused');
  if (path.includes('\\') || path.includes('\0')) fail('backslashes and NUL characters are refused');
  const segments = path.split('/');
  for (const segment of segments) {
    if (segment === '..' || segment === '.') fail('"." and ".." segments are refused');
    if (!SEGMENT.test(segment)) fail(`the segment "${segment}" has characters outside [A-Za-z0-9_.+=@-] or starts with a dot`);
  }
  if (segments.length > 16) fail('more than 16 segments');
  return segments;
}

export function isInside(parent: string, child: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/**
 * Creates the directories of `segments` (all but the last) under `base`, refusing any existing
 * ancestor that is a symlink leading outside `base`; returns the absolute target path.
 */
export async function prepareInside(base: string, segments: readonly string[], what: string, made?: string[]): Promise<string> {
  const root = await realpath(base);
  let current = root;
  for (const segment of segments.slice(0, -1)) {
    current = join(current, segment);
    const created = await mkdir(current, { recursive: false }).then(() => true, (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
      return false;
    });
    // The folders it made, for a caller that may have to take them back (model-upload.ts).
    if (created) made?.push(current);
    const real = await realpath(current);
    if (!isInside(root, real)) {
      throw new VireoError('VIREO_ERR_PATH_INVALID', `${what} escapes its directory through the symbolic link ${segments.join('/')}`);
    }
    current = real;
  }
  const target = join(current, segments.at(-1)!);
  const existing = await lstat(target).catch(() => undefined);
  if (existing?.isSymbolicLink() || (existing && !existing.isFile())) {
    throw new VireoError('VIREO_ERR_PATH_INVALID', `${what} would replace a symbolic link or directory (${segments.join('/')})`);
  }
  return target;
}

/** Resolves an existing file under `base`; refuses anything whose real path leaves `base`. */
export async function existingInside(base: string, segments: readonly string[], what: string): Promise<string> {
  const root = await realpath(base);
  let real: string;
  try {
    real = await realpath(join(root, ...segments));
  } catch {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `${what} ${segments.join('/')} does not exist`);
  }
  if (!isInside(root, real)) throw new VireoError('VIREO_ERR_PATH_INVALID', `${what} ${segments.join('/')} escapes its directory through a symbolic link`);
  return real;
}

/**
 * A load error as clients may see it: the repository's absolute location cut out of the message
 * (`/srv/models/m/1/model.onnx` → `m/1/model.onnx`), since the index and load answers reach any
 * client. `dir` is the model directory's real path, which may lie elsewhere through a symlink.
 */
export function repositoryRelative(message: string, root: string, dir: string, model: string): string {
  let out = message;
  for (const [prefix, replacement] of [[dir + sep, model + sep], [dir, model], [root + sep, ''], [root, '.']] as const) {
    if (prefix.length > 1) out = out.split(prefix).join(replacement);
  }
  return out;
}
