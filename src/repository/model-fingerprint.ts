/**
 * What a model directory held when it was loaded, to tell what changed since: the content hash of
 * its configuration and warmup files, and per version directory the files it contains. A file is
 * re-hashed only when its size, mtime, ctime or inode moved, so polling a large repository costs
 * stat calls; a file touched without a content change (same hash) is not a change.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hashFile } from '../core/file-hash.js';

interface FileStamp { stat: string; hash: string }

/** Relative path → stamp. */
type FileSet = Record<string, FileStamp>;

export interface ModelFingerprint {
  /** config.* and warmup/ files. */
  model: FileSet;
  /** Version directory name → its files. */
  versions: Record<string, FileSet>;
}

const MAX_FILES = 10_000;
const VERSION_DIR = /^[1-9]\d*$/;
const MODEL_FILES = /^config\.(ya?ml|json|pbtxt)$/;

async function collect(dir: string, prefix: string, out: FileSet, previous: FileSet | undefined, budget: { files: number }): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return; // vanished between listing and reading: the next poll sees the new state
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (--budget.files < 0) return;
    const path = join(dir, entry.name);
    const rel = prefix + entry.name;
    if (await stampFile(path, rel, out, previous)) await collect(path, `${rel}/`, out, previous, budget);
  }
}

/** Adds one regular file to `out`; returns true when `path` is a directory instead. */
async function stampFile(path: string, rel: string, out: FileSet, previous: FileSet | undefined): Promise<boolean> {
  try {
    const info = await stat(path, { bigint: true });
    if (info.isDirectory()) return true;
    if (!info.isFile()) return false;
    const stamp = `${info.size}:${info.mtimeNs}:${info.ctimeNs}:${info.ino}`;
    const before = previous?.[rel];
    out[rel] = { stat: stamp, hash: before?.stat === stamp ? before.hash : await hashFile(path) };
  } catch {
    // removed while we looked: absent from this fingerprint, the next poll sees the new state
  }
  return false;
}

/** Fingerprints `<modelDir>`; `previous` lets unchanged files skip hashing. */
export async function fingerprintModel(modelDir: string, previous?: ModelFingerprint): Promise<ModelFingerprint> {
  const budget = { files: MAX_FILES };
  const fingerprint: ModelFingerprint = { model: {}, versions: {} };
  const entries = await readdir(modelDir, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (MODEL_FILES.test(entry.name)) await stampFile(join(modelDir, entry.name), entry.name, fingerprint.model, previous?.model);
    else if (entry.name === 'warmup' && entry.isDirectory()) await collect(join(modelDir, 'warmup'), 'warmup/', fingerprint.model, previous?.model, budget);
    else if (VERSION_DIR.test(entry.name) && entry.isDirectory()) {
      const files: FileSet = {};
      await collect(join(modelDir, entry.name), '', files, previous?.versions[entry.name], budget);
      fingerprint.versions[entry.name] = files;
    }
  }
  return fingerprint;
}

const contentKey = (files: FileSet | undefined): string =>
  files === undefined ? '' : Object.entries(files).map(([path, f]) => `${path}=${f.hash}`).join('\n');

export function modelFilesChanged(a: ModelFingerprint | undefined, b: ModelFingerprint): boolean {
  return a === undefined || contentKey(a.model) !== contentKey(b.model);
}

export function versionChanged(a: ModelFingerprint | undefined, b: ModelFingerprint, version: string): boolean {
  return a === undefined || contentKey(a.versions[version]) !== contentKey(b.versions[version]);
}

/** True when anything a load depends on differs in content. */
export function fingerprintsDiffer(a: ModelFingerprint | undefined, b: ModelFingerprint): boolean {
  if (modelFilesChanged(a, b)) return true;
  const versions = new Set([...Object.keys(a!.versions), ...Object.keys(b.versions)]);
  return [...versions].some((v) => versionChanged(a, b, v));
}
