/**
 * Joins the committed parts of a PartStore (their results or their errors files, in part order,
 * which is input order) into one file, streaming: memory is one read buffer whatever the sizes.
 * A frontend that hands out one result file (`/v1/batches`' output and error files) ends with this.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { PartStore } from './part-store.js';

/** Writes the files `read` yields, then `trailer`, to `path`; returns the bytes written. */
export async function joinParts(read: ReturnType<PartStore['read']>, path: string, trailer = ''): Promise<number> {
  const out = createWriteStream(path);
  const closed = once(out, 'close');
  closed.catch(() => undefined); // awaited below; a write error surfaces first (once() rejects on 'error')
  const write = async (chunk: Buffer | string) => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  try {
    // Chunk by chunk into one stream: no listeners pile up on it, however many parts there are.
    for await (const { stream } of read) for await (const chunk of stream) await write(chunk);
    if (trailer !== '') await write(trailer);
  } finally {
    out.end();
  }
  await closed;
  return out.bytesWritten;
}
