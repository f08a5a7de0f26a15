/**
 * The fuzz suite's tools: a seeded PRNG (mulberry32: the same seed, the same cases, so a failure
 * replays), mutations of JSON values and bytes, and a `vireo serve` child process whose liveness
 * and resident memory the suite watches.
 */
import { readFileSync } from 'node:fs';
import { startChildServer } from './child-server.js';

export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** Values that break assumptions: wrong types, extremes, deep nesting, huge and negative sizes. */
export function oddValue(rng: Rng): unknown {
  const pool: (() => unknown)[] = [
    () => null, () => true, () => -1, () => 0, () => 2 ** 31, () => 2147483647, () => -2147483648, () => 1e308, () => -0.5,
    () => Number.MAX_SAFE_INTEGER, () => '', () => 'x'.repeat(rng.int(2000)), () => '\u0000\uffff', () => 'TYPE_INT32', () => 'BYTES', () => 'FP16',
    () => [], () => {}, () => [[[[[[1]]]]]], () => [2147483647, 2147483647], () => [-1, 16], () => [1, 0], () => ({ b64: '!!!' }),
    () => Array.from({ length: rng.int(40) }, () => rng.int(1000) - 500), () => ({ binary_data_size: 2 ** 40 }), () => ({ shared_memory_region: 'r' }),
    () => 'INPUT0', () => ['a', 'b'], () => { let v: unknown = 1; for (let i = 0; i < 300; i++) v = [v]; return v; },
  ];
  return rng.pick(pool)();
}

/** A copy of `value` with one randomly chosen node (object member, array element) replaced, added or removed. */
export function mutateJson(value: unknown, rng: Rng): unknown {
  const copy = structuredClone(value) as unknown;
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((c, i) => { nodes.push({ parent: v, key: i }); walk(c); });
    else if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) { nodes.push({ parent: v as Record<string, unknown>, key: k }); walk(c); }
  };
  walk(copy);
  if (nodes.length === 0) return oddValue(rng);
  const { parent, key } = rng.pick(nodes);
  const action = rng.int(4);
  if (action === 0 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string];
  else if (action === 1 && !Array.isArray(parent)) (parent as Record<string, unknown>)[rng.pick(['extra', 'inputs', 'parameters', 'outputs', '__proto__', 'constructor'])] = oddValue(rng);
  else (parent as Record<string | number, unknown>)[key] = oddValue(rng);
  return copy;
}

/** Bytes with a few flipped, cut short, or spliced with garbage. */
export function mutateBytes(bytes: Buffer, rng: Rng): Buffer {
  const out = Buffer.from(bytes);
  switch (rng.int(4)) {
    case 0:
      for (let i = 0, n = 1 + rng.int(8); i < n && out.length > 0; i++) out[rng.int(out.length)] = rng.int(256);
      return out;
    case 1: return out.subarray(0, rng.int(out.length + 1));
    case 2: {
      const at = rng.int(out.length + 1);
      return Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.int(64)), out.subarray(at)]);
    }
    default: return rng.bytes(rng.int(256));
  }
}

export interface ServeChild { url: string; grpcUrl: string; pid: number; alive: () => boolean; rssBytes: () => number; stop: () => Promise<number | null>; lines: string[] }

/** A `vireo serve` child with HTTP and gRPC; keeps only its latest log lines (the fuzzing logs many). */
export async function startServeChild(root: string, extra: string[] = []): Promise<ServeChild> {
  const { process: child, url, grpcUrl, lines, exit } = await startChildServer(root, extra, { grpc: true, keepLines: 2000 });
  return {
    url, grpcUrl: grpcUrl!, pid: child.pid!, lines,
    alive: () => child.exitCode === null && child.signalCode === null,
    rssBytes: () => {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return match ? Number(match[1]) * 1024 : 0;
    },
    stop: async () => {
      child.kill('SIGTERM');
      return exit;
    },
  };
}
