/**
 * A folder or glob of images (or any files a BYTES input takes whole, as an upload would): the
 * files, sorted by their path relative to the folder (or the glob's base), are the rows; that
 * relative path is the row's id. Blocks are runs of IMAGE_BLOCK files, parts runs of `partRows`
 * within a block. Files are read when their batch is built, so memory holds a few batches of
 * encoded images, never the folder. An unreadable file fails its row only.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { VireoError } from '../core/errors.js';
import { partName, type InputSource, type PartInput, type SourceOptions } from './input-source.js';
import type { RequestSpan } from './run-rows.js';

export const IMAGE_BLOCK = 256;

export interface ImageInput {
  /** The model's input that takes one encoded file per row. */
  input: string;
  batched: boolean;
  model: string;
  version?: string;
}

export function imageSource(path: string, fileIndex: number, files: { absolute: string; relative: string }[], target: ImageInput, maxFileBytes: number): InputSource {
  return {
    path,
    format: 'images',
    estimateRows: async () => files.length,
    async identity() {
      // Names and sizes: hashing every image would read the whole folder before the first batch.
      const stamps = await Promise.all(files.map(async (f) => {
        const info = await stat(f.absolute);
        return `${f.relative}:${info.size}:${Math.trunc(info.mtimeMs)}`;
      }));
      return { path, files: files.length, stamps: hashText(stamps.join('\n')) };
    },
    async *parts(options: SourceOptions): AsyncGenerator<PartInput> {
      const blocks = Math.ceil(files.length / IMAGE_BLOCK);
      for (let block = 0; block < blocks; block++) {
        if (!options.owns(fileIndex, block)) continue;
        const blockFiles = files.slice(block * IMAGE_BLOCK, (block + 1) * IMAGE_BLOCK);
        for (let part = 0; part * options.partRows < blockFiles.length; part++) {
          const name = partName(fileIndex, block, part);
          if (options.committed(name)) continue;
          const rows = blockFiles.slice(part * options.partRows, (part + 1) * options.partRows);
          const firstRow = block * IMAGE_BLOCK + part * options.partRows;
          yield {
            name,
            range: { source: path, block, firstRow, rows: rows.length },
            rows: {
              ids: rows.map((f) => f.relative),
              requests: async (start: number, end: number): Promise<RequestSpan[]> => {
                const data = await Promise.all(rows.slice(start, end).map((f) => readImage(f.absolute, f.relative, maxFileBytes)));
                const shape = target.batched ? [data.length, 1] : [1];
                return [{ start, items: data.map(() => 1), request: { model: target.model, version: target.version, inputs: [{ name: target.input, datatype: 'BYTES', shape, data }] } }];
              },
            },
          };
        }
      }
    },
  };
}

async function readImage(path: string, relative: string, maxBytes: number): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (info.size > maxBytes) throw new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', `${relative}: ${info.size} bytes, more than the ${maxBytes} a file may have`);
    return await readFile(path);
  } catch (error) {
    if (error instanceof VireoError) throw error;
    throw new VireoError('VIREO_ERR_INPUT_DATA', `${relative}: cannot be read: ${(error as Error).message}`);
  }
}

function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
