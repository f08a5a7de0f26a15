/**
 * Model files uploaded through the repository API (`file:<version>/<name>` parameters), written
 * only inside `<repository>/<model>/`: every path is checked before anything is written, the model
 * directory itself may not lead outside the repository, and each file is written to a temporary
 * name and renamed into place so a concurrent poll never reads half a file. A load that fails undoes
 * the upload (ModelFilesChange); what a killed process left of one is settled at the model's next
 * load (recoverInterruptedUpload).
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, readdir, realpath, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { VireoError } from '../core/errors.js';
import type { Logger } from '../logging/logger.js';
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
 * The names an upload puts beside the model's files, and nothing else: `<file>.upload-<id>` (a file
 * being written, renamed into place once whole) and `<file>.replaced-<id>` (the file it replaces, kept
 * until the load's outcome is known), `<file>` a segment as safe-path.ts admits it (repeated here: the
 * pattern must be exactly what the writer makes), `<id>` 12 lowercase hex digits. `.upload-<id>.kept` in
 * the model's folder marks an upload whose load succeeded while its copies are being removed.
 */
const LEFTOVER = /^([A-Za-z0-9_][A-Za-z0-9_.+=@-]*)\.(upload|replaced)-([0-9a-f]{12})$/;
const KEPT = /^\.upload-([0-9a-f]{12})\.kept$/;
const VERSION_DIR = /^[1-9]\d{0,15}$/;
/** Upload paths have at most 16 segments (safe-path.ts): a version folder and 15 below it. */
const MAX_DEPTH = 16;
const MAX_ENTRIES = 10_000;

/** True for a name only an upload in progress (or one a killed process left) has: never a model file. */
export function isUploadLeftover(name: string): boolean {
  return LEFTOVER.test(name);
}

const newId = () => randomBytes(6).toString('hex');

/**
 * What an upload changed, to keep or to undo: a load that fails must leave the repository as it was
 * (Triton never writes uploads into the repository at all; Vireo does, so that a restart serves the
 * model it was given, and so undoes them when the load fails).
 */
export interface ModelFilesChange {
  /**
   * The load succeeded: the replaced files' copies go. Never throws (the model serves the upload
   * whatever happens here): a copy that stays is logged, and settled at the model's next load.
   */
  keep(): Promise<void>;
  /**
   * The load (or the write) failed with `failure`: replaced files come back, new files and the folders
   * made for them go. Every step is tried even when one fails. Resolves with the error the request
   * answers: `failure` itself, or, when something could not be put back (each step logged), `failure`
   * with a message saying what the model's folder holds instead — never the undo's own error.
   */
  undo(failure: unknown): Promise<unknown>;
}

export async function writeModelFiles(root: string, name: string, files: readonly UploadedFile[], log: Logger): Promise<ModelFilesChange> {
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
  // One id for the upload's copies, so that its `.kept` marker speaks for all of them.
  const id = newId();
  let realModelDir = modelDir;
  const shown = (path: string) => relative(realModelDir, path).split(sep).join('/');
  const change: ModelFilesChange = {
    async keep() {
      if (replaced.length === 0) return;
      // The marker first: a process killed while the copies go leaves them marked as kept, so the next
      // load removes them instead of restoring an upload that had loaded (recoverInterruptedUpload).
      const marker = join(realModelDir, `.upload-${id}.kept`);
      const marked = await writeFile(marker, '', { flag: 'wx' }).then(() => true, (error: unknown) => {
        log.error({ err: error }, 'could not mark the uploaded files as kept; removing the copies of the files they replaced regardless');
        return false;
      });
      let left = 0;
      for (const { copy } of replaced) {
        await rm(copy, { force: true }).catch((error: unknown) => {
          left += 1;
          // Without the marker, the next load takes the copy for an upload that never completed.
          log.error({ err: error, file: shown(copy) }, marked
            ? 'could not remove the copy of a file the upload replaced; the model\'s next load removes it'
            : 'could not remove the copy of a file the upload replaced; the model\'s next load puts it back, undoing the upload for that file');
        });
      }
      // The marker stays while a copy does: it is what tells the next load to remove rather than restore.
      if (marked && left === 0) await rm(marker, { force: true }).catch(() => undefined);
    },
    async undo(failure) {
      const unrestored: string[] = [];
      for (const target of created) {
        await rm(target, { force: true }).catch((error: unknown) => {
          unrestored.push(`${shown(target)} (uploaded, left in place)`);
          log.error({ err: error, file: shown(target) }, 'could not remove a file of a failed upload');
        });
      }
      for (const { target, copy } of [...replaced].reverse()) {
        await restore(copy, target).catch((error: unknown) => {
          unrestored.push(`${shown(target)} (the uploaded file is in place; the previous one is kept as ${shown(copy)}, which the model's next load tries to put back)`);
          log.error({ err: error, file: shown(target), copy: shown(copy) }, 'could not restore a file a failed upload replaced');
        });
      }
      // Deepest first; a folder that holds anything else stays.
      for (const dir of made.sort((a, b) => b.length - a.length)) await rmdir(dir).catch(() => undefined);
      if (unrestored.length === 0) return failure;
      const error = VireoError.from(failure);
      return new VireoError(error.code, `${error.message}; restoring the model's previous files failed too, so its folder differs from before the upload: ${unrestored.join('; ')}`, { cause: failure });
    },
  };
  try {
    realModelDir = await realpath(modelDir);
    if (!isInside(realRoot, realModelDir) || realModelDir === realRoot) {
      throw new VireoError('VIREO_ERR_PATH_INVALID', `the directory of model "${name}" leads outside the repository through a symbolic link; uploads refused`);
    }
    for (const { segments, bytes } of checked) {
      const target = await prepareInside(realModelDir, segments, `uploaded file "${segments.join('/')}"`, made);
      const temporary = `${target}.upload-${newId()}`;
      try {
        await writeFile(temporary, bytes, { flag: 'wx', mode: 0o644 });
        // The file it replaces is kept aside (a hard link, so the rename below stays atomic) until the
        // load's outcome is known; the same path twice in one upload: the first copy is the original.
        if (!replaced.some((r) => r.target === target) && !created.includes(target)) {
          const copy = `${target}.replaced-${id}`;
          const existed = await link(target, copy).then(() => true, (error: NodeJS.ErrnoException) => {
            if (error.code !== 'ENOENT') throw error;
            return false;
          });
          if (existed) replaced.push({ target, copy });
          else created.push(target);
        }
        await rename(temporary, target);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
    }
  } catch (error) {
    throw await change.undo(error);
  }
  return change;
}

/**
 * Puts a kept copy back in place of `target`. A copy that is still the target's own link (the upload
 * stopped before its rename) is only removed: rename() between two links of one file does nothing.
 */
async function restore(copy: string, target: string): Promise<void> {
  const [was, now] = await Promise.all([lstat(copy, { bigint: true }), lstat(target, { bigint: true }).catch(() => undefined)]);
  if (now && now.ino === was.ino && now.dev === was.dev) await unlink(copy);
  else await rename(copy, target);
}

/**
 * Settles what an upload cut short by a killed process left in a model's folder, before the model
 * loads (every load, start-up loads included, calls it first; the fingerprint never counts these
 * names, model-fingerprint.ts):
 * - `<file>.upload-<id>`: a file that was still being written. Removed.
 * - `<file>.replaced-<id>` with the upload's `.kept` marker: the load succeeded and its copies were
 *   being removed. Removed, then the marker.
 * - `<file>.replaced-<id>` without it: the upload never completed (killed while writing, loading or
 *   undoing), so no client was told it loaded, and the file it replaced is the last good state.
 *   Restored, as the undo would have. Files such an upload added where none existed are not
 *   recorded anywhere and stay.
 * - Left in place and logged, as nothing tells which state is good: a copy whose `<file>` is now a
 *   directory or a symbolic link, and copies of one file from two interrupted uploads.
 * Only the model's own folder is read: one that leads outside the repository is skipped (uploads refuse
 * it too), symbolic links are never followed, and only the writer's exact names are touched.
 * Failures are logged, never thrown: the load goes on with the folder as it is.
 */
export async function recoverInterruptedUpload(root: string, name: string, log: Logger): Promise<void> {
  let realRoot: string;
  let modelDir: string;
  try {
    realRoot = await realpath(root);
    modelDir = await realpath(join(realRoot, name));
  } catch {
    return; // no folder: the load reports it
  }
  if (!isInside(realRoot, modelDir) || modelDir === realRoot) return;
  try {
    const top = await readdir(modelDir, { withFileTypes: true });
    const kept = new Set(top.filter((e) => e.isFile() && KEPT.test(e.name)).map((e) => KEPT.exec(e.name)![1]!));
    const found: { dir: string; file: string; kind: string; id: string }[] = [];
    const budget = { entries: MAX_ENTRIES };
    for (const entry of top) {
      if (entry.isDirectory() && VERSION_DIR.test(entry.name)) await findLeftovers(join(modelDir, entry.name), 1, found, budget);
    }
    if (found.length === 0 && kept.size === 0) return;
    const shown = (path: string) => relative(modelDir, path).split(sep).join('/');
    const stay = new Set<string>(); // ids with a copy that could not be removed: their markers stay
    const copiesOf = new Map<string, string[]>();
    for (const { dir, file, kind, id } of found) {
      const path = join(dir, `${file}.${kind}-${id}`);
      if (kind === 'upload' || kept.has(id)) {
        await unlink(path).then(
          () => log.info({ file: shown(path) }, 'removed what an interrupted upload left'),
          (error: unknown) => { stay.add(id); log.error({ err: error, file: shown(path) }, 'could not remove what an interrupted upload left'); },
        );
      } else {
        const target = join(dir, file);
        copiesOf.set(target, [...(copiesOf.get(target) ?? []), path]);
      }
    }
    for (const [target, copies] of copiesOf) {
      const now = await lstat(target).catch(() => undefined);
      if (copies.length > 1 || (now && !now.isFile())) {
        log.error({ file: shown(target), copies: copies.map(shown) }, 'an interrupted upload left copies of a file that cannot be restored unambiguously; left in place');
        continue;
      }
      await restore(copies[0]!, target).then(
        () => log.warn({ file: shown(target) }, 'restored the file an interrupted upload had replaced'),
        (error: unknown) => log.error({ err: error, file: shown(target) }, 'could not restore the file an interrupted upload had replaced'),
      );
    }
    for (const id of kept) if (!stay.has(id)) await unlink(join(modelDir, `.upload-${id}.kept`)).catch(() => undefined);
  } catch (error) {
    log.error({ err: error }, 'could not look for what an interrupted upload left');
  }
}

/** The writer's leftover names under `dir`, through real folders only (a symbolic link is not followed). */
async function findLeftovers(dir: string, depth: number, found: { dir: string; file: string; kind: string; id: string }[], budget: { entries: number }): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (--budget.entries < 0) return;
    const match = LEFTOVER.exec(entry.name);
    if (match && entry.isFile()) found.push({ dir, file: match[1]!, kind: match[2]!, id: match[3]! });
    else if (entry.isDirectory() && depth < MAX_DEPTH) await findLeftovers(join(dir, entry.name), depth + 1, found, budget);
  }
}
