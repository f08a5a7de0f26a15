/**
 * Triton's response cache (`--cache-config local,size=<bytes>`): successful responses kept in one
 * LRU bounded in bytes, shared by every model that enables `response_cache`. A key is the SHA-256
 * of everything that decides a response: the loaded version (a token that changes on every load,
 * so a reloaded version never sees its predecessor's entries), input names, datatypes, shapes and
 * bytes, the outputs asked for, and the request parameters that can change results.
 *
 * Invariant: `#bytes` is the sum of the sizes of the entries in `#entries`, never above `capacity`.
 * Map order is recency: a hit moves its entry to the end, eviction takes from the front.
 */
import { createHash, type Hash } from 'node:crypto';
import { VireoError } from '../core/errors.js';
import type { NumericArray } from '../core/datatypes.js';
import type { Parameters } from '../core/inference.js';
import type { Tensor } from '../core/tensor.js';

/** Parameters that steer scheduling or encoding, never the outputs: left out of the key. */
const NEUTRAL_PARAMETERS = new Set(['priority', 'timeout', 'binary_data_output', 'binary_data', 'binary_data_size', 'classification', 'triton_enable_empty_final_response', 'headers']);

/** Bookkeeping charged per entry on top of its tensors (key, map slot, tensor objects). */
const ENTRY_OVERHEAD_BYTES = 256;

interface Entry { owner: string; outputs: Tensor[]; bytes: number }

function tensorBytes(t: Tensor): number {
  if (Array.isArray(t.data)) return t.data.reduce((sum, e) => sum + e.byteLength + 16, 0);
  return (t.data as NumericArray).byteLength;
}

/** A private copy: a batch output is a view into the whole batch's buffer, which must not be kept alive. */
function own(t: Tensor): Tensor {
  const data = Array.isArray(t.data) ? t.data.map((e) => e.slice()) : (t.data as NumericArray).slice();
  return { name: t.name, datatype: t.datatype, shape: [...t.shape], data };
}

function updateTensor(hash: Hash, t: Tensor): void {
  hash.update(`${t.name}\0${t.datatype}\0${t.shape.join(',')}\0`);
  if (Array.isArray(t.data)) {
    for (const element of t.data) hash.update(`${element.byteLength}:`).update(element);
  } else {
    const data = t.data as NumericArray;
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
}

/** Parses Triton's `--cache-config local,size=<bytes>` (the only cache implementation is local). */
export function parseCacheConfig(text: string): { size: number } {
  const [kind, ...settings] = text.split(',').map((s) => s.trim());
  if (kind !== 'local') throw new VireoError('VIREO_ERR_CONFIG_INVALID', `--cache-config: unknown cache "${kind}" (Vireo has "local": --cache-config local,size=<bytes>)`);
  let size: number | undefined;
  for (const setting of settings) {
    const [key, value] = setting.split('=');
    if (key !== 'size') throw new VireoError('VIREO_ERR_CONFIG_INVALID', `--cache-config: unknown setting "${key}" of the local cache (it takes size=<bytes>)`);
    size = Number(value);
    if (!Number.isSafeInteger(size) || size < 1) throw new VireoError('VIREO_ERR_CONFIG_INVALID', `--cache-config: size must be a positive number of bytes, got "${value}"`);
  }
  if (size === undefined) throw new VireoError('VIREO_ERR_CONFIG_INVALID', '--cache-config local needs size=<bytes>');
  return { size };
}

export class ResponseCache {
  readonly capacity: number;
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(capacityBytes: number) {
    this.capacity = capacityBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The key of a request to the loaded version `owner`. */
  key(owner: string, inputs: readonly Tensor[], outputs: readonly string[], parameters: Parameters | undefined): string {
    const hash = createHash('sha256');
    hash.update(`${owner}\0${[...outputs].sort().join(',')}\0`);
    // Inputs in name order: the same request with its inputs listed differently is the same request.
    for (const t of [...inputs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) updateTensor(hash, t);
    if (parameters) {
      // As JSON, which keeps names, values and their types apart: joined with separators, a value
      // holding "\0b=string:y" made {a} and {a, b} one key, and one client was answered another's result.
      const kept = Object.keys(parameters).sort().filter((name) => !NEUTRAL_PARAMETERS.has(name));
      if (kept.length > 0) hash.update(`\0${JSON.stringify(kept.map((name) => [name, parameters[name]]))}`);
    }
    return hash.digest('base64');
  }

  /**
   * A copy of the cached outputs, marking the entry most recently used. A copy: the caller may move
   * them (an ensemble hands a step's outputs to the next step's thread as transferable buffers), which
   * detached the entry's own buffers and left every later hit with empty tensors.
   */
  get(key: string): Tensor[] | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.outputs.map(own);
  }

  /** Stores a copy of `outputs`, evicting the least recently used entries to make room. */
  set(key: string, owner: string, outputs: readonly Tensor[]): void {
    const bytes = outputs.reduce((sum, t) => sum + tensorBytes(t), ENTRY_OVERHEAD_BYTES + key.length);
    if (bytes > this.capacity) return;
    this.#remove(key);
    while (this.#bytes + bytes > this.capacity) this.#remove(this.#entries.keys().next().value!);
    this.#entries.set(key, { owner, outputs: outputs.map(own), bytes });
    this.#bytes += bytes;
  }

  /** Drops every entry of a loaded version (it unloaded or was replaced). */
  drop(owner: string): void {
    for (const [key, entry] of this.#entries) if (entry.owner === owner) this.#remove(key);
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }
}
