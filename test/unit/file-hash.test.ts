import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hashFile, stampedFileHash } from '../../src/core/file-hash.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-file-hash-'));
after(() => rm(dir, { recursive: true, force: true }));

it('streams a file of many chunks to the digest of its whole content', async () => {
  // 64 KiB chunks: this file spans 17 of them and ends mid-chunk.
  const content = randomBytes(16 * 65_536 + 12_345);
  const path = join(dir, 'model.onnx');
  await writeFile(path, content);
  assert.equal(await hashFile(path), createHash('sha256').update(content).digest('hex'));
});

it('hashes an empty file', async () => {
  const path = join(dir, 'empty');
  await writeFile(path, '');
  assert.equal(await hashFile(path), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

it('rejects for a missing file', async () => {
  await assert.rejects(hashFile(join(dir, 'absent')), { code: 'ENOENT' });
});

describe('stampedFileHash', () => {
  /** Counts the reads of file contents (hashFile streams through fs.createReadStream). */
  function countReads(): { reads: () => number; restore: () => void } {
    const original = fs.createReadStream;
    let reads = 0;
    fs.createReadStream = ((...args: Parameters<typeof original>) => {
      reads++;
      return original(...args);
    }) as typeof original;
    syncBuiltinESMExports();
    return { reads: () => reads, restore: () => { fs.createReadStream = original; syncBuiltinESMExports(); } };
  }
  const sha = (content: Buffer | string) => createHash('sha256').update(content).digest('hex');

  it('reads an unchanged file once, and again after any change: same size with the old mtime, or a file renamed over it', async () => {
    const path = join(dir, 'stamped.onnx');
    const first = randomBytes(200_000);
    await writeFile(path, first);
    const counter = countReads();
    try {
      assert.equal(await stampedFileHash(path), sha(first));
      assert.equal(await stampedFileHash(path), sha(first));
      assert.equal(counter.reads(), 1, 'the second call answers from the stamp');

      // Rewritten in place, same size, its old mtime put back: ctime still moved.
      const { atime, mtime } = await stat(path);
      const second = randomBytes(200_000);
      await writeFile(path, second);
      await utimes(path, atime, mtime);
      assert.equal(await stampedFileHash(path), sha(second));
      assert.equal(counter.reads(), 2);

      // Another file renamed over it (a new inode).
      const third = randomBytes(200_000);
      await writeFile(`${path}.new`, third);
      await rename(`${path}.new`, path);
      assert.equal(await stampedFileHash(path), sha(third));
      assert.equal(await stampedFileHash(path), sha(third));
      assert.equal(counter.reads(), 3);
    } finally {
      counter.restore();
    }
  });

  it('rejects for a missing file, also one hashed before', async () => {
    const path = join(dir, 'gone.onnx');
    await writeFile(path, 'x');
    await stampedFileHash(path);
    await unlink(path);
    await assert.rejects(stampedFileHash(path), { code: 'ENOENT' });
  });
});
