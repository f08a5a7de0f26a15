/**
 * Joins the committed parts of a PartStore (their results or their errors files, in part order,
 * which is input order) into one file, streaming: memory is one read buffer whatever the sizes.
 * A frontend that hands out one result file (`/v1/batches`' output and error files) ends with this.
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { PartStore } from './part-store.js';

/** Writes the files `read` yields, then `trailer`, to `path`; returns the bytes written. */
export async function joinParts(read: ReturnType<PartStore['read']>, path: string, trailer = ''): Promise<number> {
  const out = createWriteStream(path);
  const closed = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
  closed.catch(() => undefined); // awaited below; a failure while piping surfaces first
  try {
    for await (const { stream } of read) await pipeline(stream, out, { end: false });
    if (trailer !== '' && !out.write(trailer)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  } finally {
    out.end();
  }
  await closed;
  return out.bytesWritten;
}
