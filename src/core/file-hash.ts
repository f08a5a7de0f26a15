/**
 * A file's SHA-256, read as a stream: a model file of hundreds of megabytes is hashed in 64 KiB
 * chunks instead of being read whole into a buffer that stays resident until the next full
 * collection (measured: ≈ 10 MiB of such buffers on the main thread of examples/models after start).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

export function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path).on('data', (chunk) => hash.update(chunk)).on('error', reject).on('end', () => resolve(hash.digest('hex')));
  });
}

interface Stamped { stamp: string; hash: string }

/** Paths whose hash is remembered; beyond it the oldest is forgotten (a Map keeps insertion order). */
const MAX_REMEMBERED = 4096;
const remembered = new Map<string, Stamped>();

async function stampOf(path: string): Promise<string> {
  const info = await stat(path, { bigint: true });
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

/**
 * `hashFile`, read again only when the file's inode, size, mtime or ctime moved since the last read
 * (ctime cannot be set back by a writer, so a rewrite of the same size with its old mtime restored
 * still reads again). A model version's instances check its file on every open — another instance
 * of the group, a restart, the batch jobs' background instance, before and after each open — which
 * read a model of hundreds of megabytes twice per instance. A hash is remembered only if the stamp
 * did not move while the file was read.
 */
export async function stampedFileHash(path: string): Promise<string> {
  const stamp = await stampOf(path);
  const known = remembered.get(path);
  if (known?.stamp === stamp) return known.hash;
  const hash = await hashFile(path);
  remembered.delete(path);
  if (await stampOf(path) === stamp) {
    remembered.set(path, { stamp, hash });
    if (remembered.size > MAX_REMEMBERED) remembered.delete(remembered.keys().next().value!);
  }
  return hash;
}
