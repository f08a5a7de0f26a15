/** `makeDirectories` (core/make-directories.ts): mkdir -p that fails, never hangs, where it cannot make a directory. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { makeDirectories } from '../../src/core/make-directories.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-mkdirs-'));
after(() => rm(dir, { recursive: true, force: true }));

it('makes every missing directory, and is a no-op when they exist', async () => {
  const deep = join(dir, 'a', 'b', 'c');
  await makeDirectories(deep);
  assert.ok((await stat(deep)).isDirectory());
  await makeDirectories(deep);
  await makeDirectories(join(dir, 'a'));
});

it('several callers making the same tree at once all succeed', async () => {
  const target = join(dir, 'x', 'y', 'z');
  await Promise.all(Array.from({ length: 8 }, () => makeDirectories(target)));
  assert.ok((await stat(target)).isDirectory());
});

it('a file in the way is ENOTDIR, naming it', async () => {
  const file = join(dir, 'file');
  await writeFile(file, 'x');
  await assert.rejects(makeDirectories(file), { code: 'ENOTDIR' });
  await assert.rejects(makeDirectories(join(file, 'sub', 'deeper')), (error: NodeJS.ErrnoException) => error.code === 'ENOTDIR' && error.message.includes(file));
});

it('a path under /proc fails at once (Node’s recursive mkdir never settles there)', { skip: !existsSync('/proc/self') && 'no /proc here', timeout: 10_000 }, async () => {
  await assert.rejects(makeDirectories('/proc/vireo-no-such/parts'), { code: 'ENOENT' });
});
