/**
 * Model files uploaded through the repository API (`file:<version>/<name>` parameters), written
 * only inside `<repository>/<model>/`: every path is checked before anything is written, the model
 * directory itself may not lead outside the repository, and each file is written to a temporary
 * name and renamed into place so a concurrent poll never reads half a file. A load that fails undoes
 * the upload (ModelFilesChange).
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, realpath, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VireoError } from '../core/errors.js';
import { isInside, prepareInside, relativeSegments } from './safe-path.js';

export interface UploadedFile {
  /** `<version>/<file name>`, as in the `file:` parameter after the prefix. */
  path: string;
  bytes: Uint8Array;
}

const MODEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Model names are one path segment: no separators, no leading dot, no `..`. */
export function checkModelName(name: string): void {
  if (!MODEL_NAME.test(name) || name.length > 255 || name.includes('..')) {
    throw new VireoError('VIREO_ERR_PATH_INVALID', `invalid model name "${name}": expected 1 to 255 characters from [A-Za-z0-9_.-], not starting with "." and without ".."`);
  }
}

/** Checks `file:` paths: a positive-integer version directory, then a relative file path. */
export function uploadSegments(path: string): string[] {
  const segments = relativeSegments(path, 'uploaded file');
  if (segments.length < 2 || !/^[1-9]\d{0,15}$/.test(segments[0]!)) {
    throw new VireoError('VIREO_ERR_PATH_INVALID', `uploaded file "${path}" must be named <version>/<file>, the version a positive integer`);
  }
  return segments;
}

/**
 * What an upload changed, to keep or to undo: a load that fails must leave the repository as it was
 * (Triton never writes uploads into the repository at all; Vireo does, so that a restart serves the
 * model it was given, and so undoes them when the load fails).
 */
export interface ModelFilesChange {
  /** The load succeeded: the replaced files' copies go. */
  keep(): Promise<void>;
  /** The load failed: replaced files come back, new files and the folders made for them go. */
  undo(): Promise<void>;
}

export async function writeModelFiles(root: string, name: string, files: readonly UploadedFile[]): Promise<ModelFilesChange> {
  checkModelName(name);
  const checked = files.map((f) => ({ segments: uploadSegments(f.path), bytes: f.bytes }));
  const realRoot = await realpath(root);
  const modelDir = join(realRoot, name);
  const madeModelDir = await mkdir(modelDir).then(() => true, (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
    return false;
  });
  const made: string[] = madeModelDir ? [modelDir] : [];
  const replaced: { target: string; copy: string }[] = [];
  const created: string[] = [];
  const change: ModelFilesChange = {
    async keep() {
      for (const { copy } of replaced) await rm(copy, { force: true });
    },
    async undo() {
      for (const target of created) await rm(target, { force: true });
      for (const { target, copy } of replaced.reverse()) await rename(copy, target);
      // Deepest first; a folder that holds anything else stays.
      for (const dir of made.sort((a, b) => b.length - a.length)) await rmdir(dir).catch(() => undefined);
    },
  };
  try {
    const realModelDir = await realpath(modelDir);
    if (!isInside(realRoot, realModelDir) || realModelDir === realRoot) {
      throw new VireoError('VIREO_ERR_PATH_INVALID', `the directory of model "${name}" leads outside the repository through a symbolic link; uploads refused`);
    }
    for (const { segments, bytes } of checked) {
      const target = await prepareInside(realModelDir, segments, `uploaded file "${segments.join('/')}"`, made);
      const temporary = `${target}.upload-${randomBytes(6).toString('hex')}`;
      try {
        await writeFile(temporary, bytes, { flag: 'wx', mode: 0o644 });
        // The file it replaces is kept aside (a hard link, so the rename below stays atomic) until the load's outcome is known.
        const copy = `${target}.replaced-${randomBytes(6).toString('hex')}`;
        const existed = await link(target, copy).then(() => true, (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
          return false;
        });
        if (existed && !replaced.some((r) => r.target === target)) replaced.push({ target, copy });
        else if (existed) await rm(copy, { force: true }); // the same path twice in one upload: the first copy is the original
        else if (!created.includes(target)) created.push(target);
        await rename(temporary, target);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
    }
  } catch (error) {
    await change.undo();
    throw error;
  }
  return change;
}
