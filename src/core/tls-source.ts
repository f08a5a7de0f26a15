/**
 * The server's TLS certificate, key and (for mutual TLS) client CA, read from files and read
 * again on reload (SIGHUP): every listener that serves TLS subscribes and swaps its secure context
 * for new connections, while connections already open keep theirs. A reload that fails (a missing
 * file, a key that does not match the certificate) keeps the previous material and says why.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { VireoError } from './errors.js';

export interface TlsPaths {
  certFile: string;
  keyFile: string;
  /** Client CA bundle: with it, clients must present a certificate it signed (mutual TLS). */
  clientCaFile?: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

async function readPart(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `cannot read the TLS ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

export async function readTlsMaterial(paths: TlsPaths): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([
    readPart(paths.certFile, 'certificate (--tls-cert)'),
    readPart(paths.keyFile, 'key (--tls-key)'),
    paths.clientCaFile === undefined ? undefined : readPart(paths.clientCaFile, 'client CA (--tls-client-ca)'),
  ]);
  try {
    // Parses the PEM and checks that the key belongs to the certificate, as a listener would.
    createSecureContext({ cert, key, ca });
  } catch (error) {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `the TLS certificate and key cannot be used: ${(error as Error).message}`);
  }
  return { cert, key, ca };
}

export class TlsSource {
  readonly paths: TlsPaths;
  #material: TlsMaterial;
  readonly #listeners = new Set<(material: TlsMaterial) => void>();

  private constructor(paths: TlsPaths, material: TlsMaterial) {
    this.paths = paths;
    this.#material = material;
  }

  static async load(paths: TlsPaths): Promise<TlsSource> {
    return new TlsSource(paths, await readTlsMaterial(paths));
  }

  get material(): TlsMaterial {
    return this.#material;
  }

  get mutual(): boolean {
    return this.paths.clientCaFile !== undefined;
  }

  /** Called with the new material after each successful reload. */
  subscribe(listener: (material: TlsMaterial) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads the files again; on success every listener gets the new material, on failure nothing changes. */
  async reload(): Promise<void> {
    const material = await readTlsMaterial(this.paths);
    this.#material = material;
    for (const listener of this.#listeners) listener(material);
  }
}
