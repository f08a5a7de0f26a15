import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { hashFile } from '../../src/core/file-hash.js';

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
