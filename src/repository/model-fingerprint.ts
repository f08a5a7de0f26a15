/**
 * What a model directory held when it was loaded, to tell what changed since: the content hash of
 * its configuration and warmup files, of the label files its configuration names, and per version
 * directory the files it contains (an upload's temporary files and copies aside). A file is re-hashed
 * only when its size, mtime, ctime or inode moved, so polling a large repository costs stat calls (and
 * the configuration is parsed again only when it changed); a file touched without a content change
 * (same hash) is not a change.
 */
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { hashFile } from '../core/file-hash.js';
import { readModelConfig } from './config-file.js';
import { isUploadLeftover } from './model-upload.js';

interface FileStamp { stat: string; hash: string }

/** Relative path → stamp. */
type FileSet = Record<string, FileStamp>;

export interface ModelFingerprint {
  /** config.* and warmup/ files, and the label files the configuration names (by their path in the model directory). */
  model: FileSet;
  /** Version directory name → its files. */
  versions: Record<string, FileSet>;
  /** The label files' paths as read from the configuration files of these hashes: read again only when they change. */
  labels?: { config: string; files: string[] };
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
    // An upload's temporary files and the copies of the files it replaces are never model files: they
    // exist while a load with uploaded files runs, or until the next load settles what a killed process
    // left (model-upload.ts), and counting them would make a change of what never changed.
    if (isUploadLeftover(entry.name)) continue;
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
  // The label files after the configuration files: which ones they are is read from those.
  const config = contentKey(Object.fromEntries(Object.entries(fingerprint.model).filter(([path]) => MODEL_FILES.test(path))));
  const labels = previous?.labels?.config === config ? previous.labels : { config, files: await labelFiles(modelDir) };
  fingerprint.labels = labels;
  for (const path of labels.files) if (!(path in fingerprint.model)) await stampFile(join(modelDir, path), path, fingerprint.model, previous?.model);
  return fingerprint;
}

/**
 * The label files the configuration names (`output[].label_filename`): the classification codec reads
 * them when the model loads (model-codecs.ts), and a class index is answered with its line, so a
 * changed labels file changes the answers as a changed model file does — a batch job resumed over it
 * would mix two labelings in one output, and a polled repository would keep serving the old labels.
 * By their path relative to the model directory; a name outside it is left out (the load refuses it,
 * model-file.ts), and so is everything when the configuration does not parse: the configuration's own
 * hash is in the fingerprint, and the load that reads it fails.
 */
async function labelFiles(modelDir: string): Promise<string[]> {
  let output;
  try {
    output = (await readModelConfig(modelDir)).config.output ?? [];
  } catch {
    return [];
  }
  const paths = new Set<string>();
  for (const { label_filename: file } of output) {
    if (!file) continue;
    const path = relative(modelDir, resolve(modelDir, file));
    if (path === '' || isAbsolute(path) || path === '..' || path.startsWith(`..${sep}`)) continue;
    paths.add(path.split(sep).join('/'));
  }
  return [...paths].sort();
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
