/** Writing generated manifests (`vireo k8s`): a folder that cannot be written is one line, not a stack trace. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirectories } from '../core/make-directories.js';
import { PackagingError } from '../packaging/packaging-error.js';

/** Writes each `[file, text]` into `dir` (made if missing) and prints its path. */
export async function writeManifests(dir: string, files: readonly (readonly [string, string])[]): Promise<void> {
  try {
    await makeDirectories(dir);
    for (const [file, text] of files) {
      await writeFile(join(dir, file), text);
      process.stdout.write(`${join(dir, file)}\n`);
    }
  } catch (error) {
    throw new PackagingError(`cannot write the manifests to ${dir}: ${(error as Error).message}`);
  }
}
