/**
 * A file's SHA-256, read as a stream: a model file of hundreds of megabytes is hashed in 64 KiB
 * chunks instead of being read whole into a buffer that stays resident until the next full
 * collection (measured: ≈ 10 MiB of such buffers on the main thread of examples/models after start).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path).on('data', (chunk) => hash.update(chunk)).on('error', reject).on('end', () => resolve(hash.digest('hex')));
  });
}
