/**
 * A batch's output and error files, made from its committed parts when the job ends (completed,
 * cancelled, expired, or failed while running): the parts are joined in input order and the two files
 * registered under ids derived from the batch's, so a finalisation redone after a crash writes the same
 * files again.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { joinParts } from '../../batch/join-parts.js';
import type { PartStore } from '../../batch/part-store.js';
import { derivedFileId, type BatchFiles } from './batch-files.js';
import type { BatchObject } from './batch-objects.js';

/** Joins the committed parts (and `extraErrors`, lines of their own) into the output and error files; null where empty. */
export async function writeBatchOutputs(files: BatchFiles, batch: BatchObject, store: PartStore, extraErrors: string[]): Promise<{ output: string | null; error: string | null }> {
  const outPath = join(store.dir, 'output.tmp');
  const errPath = join(store.dir, 'errors.tmp');
  const outBytes = await joinParts(store.read('results'), outPath);
  const extra = extraErrors.map((l) => `${l}\n`).join('');
  if (extra !== '') files.reserve(Buffer.byteLength(extra));
  const errBytes = await joinParts(store.read('errors'), errPath, extra);
  // Every part's bytes were reserved when it was committed: they are now the output files' bytes.
  const output = outBytes > 0 ? (await files.adopt(derivedFileId(batch.id, 'output'), outPath, `${batch.id}_output.jsonl`, 'batch_output')).id : null;
  const error = errBytes > 0 ? (await files.adopt(derivedFileId(batch.id, 'error'), errPath, `${batch.id}_error.jsonl`, 'batch_output')).id : null;
  await rm(outPath, { force: true });
  await rm(errPath, { force: true });
  return { output, error };
}
