/**
 * `mkdir -p` for paths a user names (`--output`, `--batch-dir`, `--out`): the missing directories are
 * made one at a time, from the nearest one that exists. Node's own `mkdir(path, { recursive: true })`
 * never settles for a path under /proc (Node 20: a parent that exists answers ENOENT, and it retries
 * forever, sync or not), so `vireo batch --output /proc/x` spun a core instead of failing.
 *
 * Fails with the system's error (ENOENT, ENOTDIR, EACCES, EROFS …) for the first directory it cannot
 * make; a directory made meanwhile by someone else (another shard) is fine.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export async function makeDirectories(path: string): Promise<void> {
  const missing: string[] = [];
  for (let current = resolve(path); ; current = dirname(current)) {
    const info = await stat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (info) {
      if (!info.isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}' (${current} is a file)`), { code: 'ENOTDIR', path: current });
      break;
    }
    missing.push(current);
    if (dirname(current) === current) break; // the root itself is missing: mkdir below says why
  }
  for (const dir of missing.reverse()) {
    await mkdir(dir).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST' || !(await stat(dir)).isDirectory()) throw error;
    });
  }
}
