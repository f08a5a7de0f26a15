/**
 * The output folder of a batch job, written in parts so that a killed job resumes exactly once.
 *
 * Layout of `<dir>`:
 *   job.json                       the job's identity (model fingerprint, inputs, options that shape parts)
 *   parts/<part>.<ext>             the results of one part (JSONL, CSV, Parquet or Arrow)
 *   parts/<part>.errors.jsonl      its failed rows (absent when none failed)
 *   parts/<part>.manifest.json     the commit marker: input ranges covered, row counts, file sizes, sha256
 *                                  (no times: a rerun writes byte-identical parts and manifests)
 *
 * Invariants:
 * - A part is committed if and only if its manifest exists. Every data file is written to a temporary
 *   name, flushed, and renamed into place before the manifest is (itself temp + fsync + rename), so a
 *   `kill -9` at any moment leaves either a whole committed part or debris that `open` removes.
 * - Part names are deterministic (the reader derives them from input positions), so a rerun writes the
 *   same names and skips the committed ones; shards write disjoint names into one folder.
 * - The identity is fixed by the first run; a different one (another model, changed input files, other
 *   part-shaping options) is refused unless `restart`, which discards what the job wrote (see discard),
 *   never other files of the folder.
 *
 * This module knows nothing of models or formats: `vireo batch` and the server's `/v1/batches` both commit
 * through it.
 */
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { VireoError } from '../core/errors.js';
import { makeDirectories } from '../core/make-directories.js';

/** Rows [firstRow, firstRow + rows) of one block of one input (see input-plan.ts). */
export interface PartRange {
  source: string;
  block: number;
  firstRow: number;
  rows: number;
}

export interface PartFile {
  /** File name inside parts/ (e.g. `f00000-b000000-p00000.jsonl`). */
  name: string;
  bytes: number;
  sha256: string;
}

export interface PartManifest {
  part: string;
  ranges: PartRange[];
  /** Rows covered (results + errors). */
  rows: number;
  errors: number;
  /** The results file first, then the errors file when there is one. */
  files: PartFile[];
}

export interface PartContent {
  /** Results: the file's extension (without dot) and its bytes. */
  results: { extension: string; bytes: Uint8Array };
  /** Failed rows as JSONL; empty or absent: no errors file. */
  errors?: Uint8Array;
  ranges: PartRange[];
  rows: number;
  errors_count: number;
}

const MANIFEST = '.manifest.json';
const TEMP = '.tmp-';
const PART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

/** Stable JSON: keys sorted, so identities compare as text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Makes a job's output folder (or `sub`, a folder in it), as one clear error when it cannot be. */
export async function makeOutputFolder(dir: string, sub = dir): Promise<void> {
  await makeDirectories(sub).catch((error: Error) => {
    throw new VireoError('VIREO_ERR_BATCH_OUTPUT_INVALID', `the output folder ${dir} cannot be made: ${error.message}`);
  });
}

/** Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  // The temporary name starts with the final one, so its owner (the part) is known if it is left behind.
  const temp = `${path}${TEMP}${randomBytes(6).toString('hex')}`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // some file systems cannot fsync a directory; the rename is still atomic there
  } finally {
    await handle.close();
  }
}

export interface OpenOptions {
  /** Discard what the job wrote before (see PartStore.discard) instead of refusing another identity. */
  restart?: boolean;
  /** Whether a part is the caller's (its shard's); default: every part. */
  owns?: (part: string) => boolean;
  /** The job's files beside job.json and parts/ (summaries): `is` any shard's, `own` the caller's. */
  jobFiles?: { is(name: string): boolean; own(name: string): boolean };
  /** Says what changed in one field of the identity (by field name), for the refusal; default: the field's name. */
  describe?: Readonly<Record<string, (before: unknown, now: unknown) => string | undefined>>;
  /** job.json's text as the caller has just read it (readJobFile): open does not read it again. */
  jobFile?: string;
}

export class PartStore {
  readonly dir: string;
  readonly partsDir: string;
  readonly #committed: Map<string, PartManifest>;

  private constructor(dir: string, committed: Map<string, PartManifest>) {
    this.dir = dir;
    this.partsDir = join(dir, 'parts');
    this.#committed = committed;
  }

  /**
   * Opens (or creates) the output folder of a job with this identity. `owns(part)` says which parts
   * belong to the caller (its shard): only their uncommitted debris is removed, as other shards may be
   * writing theirs at the same time. `restart`: see discard.
   */
  static async open(dir: string, identity: unknown, options: OpenOptions = {}): Promise<PartStore> {
    const partsDir = join(dir, 'parts');
    let jobFile = options.jobFile;
    if (options.restart) jobFile = await PartStore.#discard(dir, canonicalJson(identity), options);
    await makeOutputFolder(dir, partsDir);
    await PartStore.#claimIdentity(dir, canonicalJson(identity), options.describe, jobFile);
    const committed = new Map<string, PartManifest>();
    const owns = options.owns ?? (() => true);
    const names = await readdir(partsDir);
    for (const name of names) {
      if (!name.endsWith(MANIFEST)) continue;
      const manifest = JSON.parse(await readFile(join(partsDir, name), 'utf8')) as PartManifest;
      committed.set(manifest.part, manifest);
    }
    // Debris of an interrupted commit: temporary files, and data files whose manifest never landed.
    // Only this caller's parts: another shard may be committing its own right now.
    for (const name of names) {
      if (name.endsWith(MANIFEST) || name === 'job.json') continue;
      const part = name.split('.')[0]!;
      if (!owns(part)) continue;
      if (name.includes(TEMP) || !committed.has(part)) await unlink(join(partsDir, name)).catch(() => undefined);
    }
    return new PartStore(dir, committed);
  }

  /**
   * What `restart` discards: the caller's committed parts (manifest first, so a crash leaves only
   * debris) and its own job files. job.json is shared by the shards writing into the folder: while it
   * names this same job the other shards' parts are still theirs and stay. When it names another job,
   * every part in the folder is that job's and would count as committed under the new identity, so all
   * of them, every shard's job files and job.json go. Files the job did not write are never touched.
   * Resolves with job.json's text when it stays (undefined when it is gone, or was not read).
   */
  static async #discard(dir: string, identity: string, options: OpenOptions): Promise<string | undefined> {
    const existing = options.jobFile ?? await readFile(join(dir, 'job.json'), 'utf8').catch(() => undefined);
    const replaced = existing !== undefined && existing.trim() !== identity;
    const owns = replaced ? () => true : (options.owns ?? (() => true));
    const partsDir = join(dir, 'parts');
    const names = await readdir(partsDir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith(MANIFEST) || !owns(name.slice(0, -MANIFEST.length))) continue;
      const part = name.slice(0, -MANIFEST.length);
      const manifest = JSON.parse(await readFile(join(partsDir, name), 'utf8')) as PartManifest;
      await unlink(join(partsDir, name));
      // Only the part's own names: a manifest never sends a removal outside parts/.
      for (const file of manifest.files) if (file.name.startsWith(`${part}.`) && !/[/\\]/.test(file.name)) await rm(join(partsDir, file.name), { force: true });
    }
    const files = options.jobFiles;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (files && (files.own(name) || (replaced && files.is(name)))) await rm(join(dir, name), { force: true });
    }
    if (replaced) await rm(join(dir, 'job.json'), { force: true });
    return replaced ? undefined : existing;
  }

  /** The identity a folder's first run fixed (job.json), or undefined when no run has claimed it yet. */
  static async identityOf(dir: string): Promise<unknown> {
    return await PartStore.readJobFile(dir).then((text) => (text === undefined ? undefined : JSON.parse(text) as unknown));
  }

  /** job.json's text, or undefined when no run has claimed the folder yet (OpenOptions.jobFile). */
  static async readJobFile(dir: string): Promise<string | undefined> {
    try {
      return await readFile(join(dir, 'job.json'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * job.json is created once (link of a complete temp file: never half-written, first writer wins).
   * `found`: its text as read before open, compared instead of reading it again when the link finds it there.
   */
  static async #claimIdentity(dir: string, identity: string, describe: OpenOptions['describe'], found: string | undefined): Promise<void> {
    const path = join(dir, 'job.json');
    const temp = join(dir, `${TEMP}job-${randomBytes(6).toString('hex')}`);
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(`${identity}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const linked = await link(temp, path).then(() => true, (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
      return false;
    }).finally(() => unlink(temp));
    // Linked: job.json is the temp file just written, this identity.
    const existing = linked ? identity : (found ?? await readFile(path, 'utf8')).trim();
    if (existing !== identity) {
      throw new VireoError('VIREO_ERR_BATCH_OUTPUT_MISMATCH', `${dir} holds the output of a different job (${describeDifference(existing, identity, describe)}); use another output folder, or --restart to discard it`);
    }
  }

  isCommitted(part: string): boolean {
    return this.#committed.has(part);
  }

  manifest(part: string): PartManifest | undefined {
    return this.#committed.get(part);
  }

  /** Every committed part, in name order (which is input order). */
  committed(): PartManifest[] {
    return [...this.#committed.values()].sort((a, b) => (a.part < b.part ? -1 : a.part > b.part ? 1 : 0));
  }

  /** Commits one part: data files first, then the manifest that makes them count. */
  async commit(part: string, content: PartContent): Promise<PartManifest> {
    if (!PART_NAME.test(part) || part.includes('.')) throw new VireoError('VIREO_ERR_INTERNAL', `invalid part name "${part}"`);
    if (this.#committed.has(part)) throw new VireoError('VIREO_ERR_INTERNAL', `part ${part} is already committed`);
    const files: PartFile[] = [];
    const write = async (name: string, bytes: Uint8Array) => {
      // Hashed off the main thread (WebCrypto runs on libuv's pool) while the file is written.
      const [, digest] = await Promise.all([writeFileAtomic(join(this.partsDir, name), bytes), webcrypto.subtle.digest('SHA-256', bytes)]);
      files.push({ name, bytes: bytes.byteLength, sha256: Buffer.from(digest).toString('hex') });
    };
    await write(`${part}.${content.results.extension}`, content.results.bytes);
    if (content.errors && content.errors.byteLength > 0) await write(`${part}.errors.jsonl`, content.errors);
    const manifest: PartManifest = { part, ranges: content.ranges, rows: content.rows, errors: content.errors_count, files };
    await writeFileAtomic(join(this.partsDir, `${part}${MANIFEST}`), new TextEncoder().encode(`${JSON.stringify(manifest)}\n`));
    await syncDir(this.partsDir);
    this.#committed.set(part, manifest);
    return manifest;
  }

  /** The committed results (or errors) files in part order, each checked against its manifest's hash. */
  async *read(kind: 'results' | 'errors'): AsyncGenerator<{ part: string; file: string; stream: AsyncIterable<Buffer> }> {
    for (const manifest of this.committed()) {
      const file = kind === 'results' ? manifest.files[0] : manifest.files.find((f) => f.name.endsWith('.errors.jsonl'));
      if (!file) continue;
      yield { part: manifest.part, file: join(this.partsDir, file.name), stream: createReadStream(join(this.partsDir, file.name)) };
    }
  }

  /** Whether every file of every committed part still has the size and hash its manifest says. */
  async verify(): Promise<string[]> {
    const problems: string[] = [];
    for (const manifest of this.committed()) {
      for (const file of manifest.files) {
        try {
          const bytes = await readFile(join(this.partsDir, file.name));
          if (bytes.byteLength !== file.bytes || sha256(bytes) !== file.sha256) problems.push(`${file.name}: content differs from its manifest`);
        } catch {
          problems.push(`${file.name}: missing`);
        }
      }
    }
    return problems;
  }
}

/** Names the first top-level field that differs, so the refusal says what changed. */
function describeDifference(before: string, now: string, describe: OpenOptions['describe'] = {}): string {
  try {
    const a = JSON.parse(before) as Record<string, unknown>;
    const b = JSON.parse(now) as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    const changed = keys.filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k]));
    return changed.length > 0 ? `changed: ${changed.map((k) => (Object.hasOwn(describe, k) ? describe[k]!(a[k], b[k]) : undefined) || k).join(', ')}` : 'different identity';
  } catch {
    return 'unreadable job.json';
  }
}
