/**
 * Model files uploaded through the repository API (`file:<version>/<name>` parameters), written
 * only inside `<repository>/<model>/`: every path is checked before anything is written, the model
 * directory itself may not lead outside the repository, and each file is written to a temporary
 * name and renamed into place so a concurrent poll never reads half a file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, realpath, rename, rm, writeFile } from 'node:fs/promises';
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

export async function writeModelFiles(root: string, name: string, files: readonly UploadedFile[]): Promise<void> {
  checkModelName(name);
  const checked = files.map((f) => ({ segments: uploadSegments(f.path), bytes: f.bytes }));
  const realRoot = await realpath(root);
  const modelDir = join(realRoot, name);
  await mkdir(modelDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const realModelDir = await realpath(modelDir);
  if (!isInside(realRoot, realModelDir) || realModelDir === realRoot) {
    throw new VireoError('VIREO_ERR_PATH_INVALID', `the directory of model "${name}" leads outside the repository through a symbolic link; uploads refused`);
  }
  for (const { segments, bytes } of checked) {
    const target = await prepareInside(realModelDir, segments, `uploaded file "${segments.join('/')}"`);
    const temporary = `${target}.upload-${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(temporary, bytes, { flag: 'wx', mode: 0o644 });
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}
