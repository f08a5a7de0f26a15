/**
 * The Files half of the OpenAI-style batch API: uploaded JSONL inputs and the output/error files
 * jobs write, kept under `<batch-dir>/files/` as `<id>.data` (the bytes) and `<id>.json` (the file
 * object). Ids are opaque (`file-` and 24 hex digits) and checked against that pattern before
 * they touch a path, so no id can name anything outside the folder.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VireoError } from '../../core/errors.js';
import { makeDirectories } from '../../core/make-directories.js';

export type FilePurpose = 'batch' | 'batch_output';

/** OpenAI's file object. */
export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: FilePurpose;
  status: 'processed';
  expires_at: number | null;
}

const FILE_ID = /^file-[0-9a-f]{24}$/;

export const newFileId = (): string => `file-${randomBytes(12).toString('hex')}`;

/** A file id derived from a batch id and a role, so that redoing a finalisation rewrites the same file. */
export const derivedFileId = (batchId: string, role: 'output' | 'error'): string =>
  `file-${batchId.slice(-22)}${role === 'output' ? '0a' : '0e'}`;

export function checkFileId(id: string): string {
  if (!FILE_ID.test(id)) throw new VireoError('VIREO_ERR_BATCH_FILE_NOT_FOUND', `no file with id "${id.slice(0, 64)}"`);
  return id;
}

export interface FileLimits {
  /** Largest uploaded file. */
  maxFileBytes: number;
  /** Everything under the batch directory (inputs, parts, outputs) together. */
  maxDiskBytes: number;
}

export class BatchFiles {
  readonly #dir: string;
  readonly #limits: FileLimits;
  /** Bytes under the batch directory, counted at open and kept current by every write here. */
  #used = 0;
  /** Uploads in progress reserve nothing up front; their bytes count as they arrive. */
  #uploading = 0;

  constructor(root: string, limits: FileLimits) {
    this.#dir = join(root, 'files');
    this.#limits = limits;
  }

  async open(usedBytes: number): Promise<void> {
    await makeDirectories(this.#dir);
    // Uploads that were cut by a crash leave temporary files: they were never answered, so drop them.
    for (const name of await readdir(this.#dir)) if (name.endsWith('.tmp')) await rm(join(this.#dir, name), { force: true });
    this.#used = usedBytes;
  }

  dataPath(id: string): string {
    return join(this.#dir, `${checkFileId(id)}.data`);
  }

  /** Account for bytes written elsewhere under the batch directory (job parts); throws past the limit. */
  reserve(bytes: number): void {
    if (this.#used + this.#uploading + bytes > this.#limits.maxDiskBytes) {
      throw new VireoError('VIREO_ERR_BATCH_LIMIT', `the batch storage would exceed its limit of ${this.#limits.maxDiskBytes} bytes (--batch-max-disk-bytes)`);
    }
    this.#used += bytes;
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }

  get usedBytes(): number {
    return this.#used;
  }

  /** Streams an upload to disk, refusing it as soon as it passes the file or disk limit. */
  async upload(source: Readable, filename: string, purpose: FilePurpose): Promise<FileObject> {
    const id = newFileId();
    const tmp = join(this.#dir, `${id}.tmp`);
    let bytes = 0;
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        bytes += chunk.length;
        this.#uploading += chunk.length;
        if (bytes > this.#limits.maxFileBytes) {
          done(new VireoError('VIREO_ERR_BATCH_LIMIT', `the file is larger than the limit of ${this.#limits.maxFileBytes} bytes (--batch-max-file-bytes)`));
        } else if (this.#used + this.#uploading > this.#limits.maxDiskBytes) {
          done(new VireoError('VIREO_ERR_BATCH_LIMIT', `the batch storage would exceed its limit of ${this.#limits.maxDiskBytes} bytes (--batch-max-disk-bytes)`));
        } else {
          done(null, chunk);
        }
      },
    });
    try {
      await pipeline(source, counter, createWriteStream(tmp));
      // @fastify/multipart ends a file cut at its size limit without an error: it sets `truncated`.
      if ((source as { truncated?: boolean }).truncated) {
        throw new VireoError('VIREO_ERR_BATCH_LIMIT', `the file is larger than the limit of ${this.#limits.maxFileBytes} bytes (--batch-max-file-bytes)`);
      }
      const file: FileObject = {
        id, object: 'file', bytes, created_at: nowSeconds(), filename: safeFilename(filename), purpose, status: 'processed', expires_at: null,
      };
      await rename(tmp, this.dataPath(id));
      await this.#writeObject(file);
      this.#used += bytes;
      return file;
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    } finally {
      this.#uploading -= bytes;
    }
  }

  /**
   * Registers a file a job wrote at `tmpPath` (already counted through `reserve`), replacing any
   * earlier file of the same id: a finalisation that is redone after a crash writes the same ids.
   */
  async adopt(id: string, tmpPath: string, filename: string, purpose: FilePurpose): Promise<FileObject> {
    const bytes = (await stat(tmpPath)).size;
    const file: FileObject = { id, object: 'file', bytes, created_at: nowSeconds(), filename, purpose, status: 'processed', expires_at: null };
    await rename(tmpPath, this.dataPath(id));
    await this.#writeObject(file);
    return file;
  }

  async get(id: string): Promise<FileObject> {
    try {
      return JSON.parse(await readFile(join(this.#dir, `${checkFileId(id)}.json`), 'utf8')) as FileObject;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new VireoError('VIREO_ERR_BATCH_FILE_NOT_FOUND', `no file with id "${id}"`);
      throw error;
    }
  }

  /** Every file, newest first (OpenAI's default order). */
  async list(purpose?: string): Promise<FileObject[]> {
    const files: FileObject[] = [];
    for (const name of await readdir(this.#dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        files.push(JSON.parse(await readFile(join(this.#dir, name), 'utf8')) as FileObject);
      } catch {
        // A metadata file is written by rename: an unreadable one is not ours, so it is not listed.
      }
    }
    return files.filter((f) => purpose === undefined || f.purpose === purpose).sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1));
  }

  async delete(id: string): Promise<void> {
    const file = await this.get(id);
    await rm(join(this.#dir, `${id}.json`), { force: true });
    await rm(this.dataPath(id), { force: true });
    this.release(file.bytes);
  }

  async #writeObject(file: FileObject): Promise<void> {
    const tmp = join(this.#dir, `${file.id}.json.tmp`);
    await writeFile(tmp, JSON.stringify(file));
    await rename(tmp, join(this.#dir, `${file.id}.json`));
  }
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A client's file name is only echoed back: keep it short and printable. */
function safeFilename(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').slice(0, 255);
  return clean === '' ? 'upload.jsonl' : clean;
}
