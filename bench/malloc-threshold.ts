/**
 * What a fixed glibc mmap threshold costs a request-sized allocation: the time to allocate and fill a
 * Float32Array of 200 KB, 600 KB and 2 MB (V8 allocates ArrayBuffers through calloc), in child
 * processes with MALLOC_ARENA_MAX=2 and MALLOC_MMAP_THRESHOLD_ unset, 131072 and 1048576, interleaved
 * round by round; medians with the spread. Goes with `tsx bench/many-models.ts --only cycles` (README,
 * "Bounded malloc arenas"): the threshold is what keeps RSS from creeping over load/unload cycles.
 *
 *   tsx bench/malloc-threshold.ts [--rounds 3]
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const SIZES = [200_000, 600_000, 2_000_000];
const SETTINGS: Record<string, string | undefined> = { unset: undefined, '128 KiB': '131072', '1 MiB': '1048576' };

// One child: µs per allocate + fill for each size, after a warm-up that lets glibc settle its threshold.
const CHILD = `
const out = [];
for (const bytes of ${JSON.stringify(SIZES)}) {
  let sink = 0;
  for (let i = 0; i < 200; i++) { const a = new Float32Array(bytes / 4); a[0] = i; sink += a[a.length - 1]; }
  const n = 2000, t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) { const a = new Float32Array(bytes / 4); a.fill(1); sink += a[0]; }
  out.push(Number(process.hrtime.bigint() - t0) / n / 1000 + sink * 0);
}
console.log(JSON.stringify(out));`;

const samples = new Map<string, number[][]>(Object.keys(SETTINGS).map((k) => [k, SIZES.map(() => [])]));
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [name, threshold] of Object.entries(SETTINGS)) {
    const env: NodeJS.ProcessEnv = { ...process.env, MALLOC_ARENA_MAX: '2' };
    if (threshold) env.MALLOC_MMAP_THRESHOLD_ = threshold;
    else delete env.MALLOC_MMAP_THRESHOLD_;
    const times = JSON.parse(execFileSync(process.execPath, ['-e', CHILD], { env, encoding: 'utf8' })) as number[];
    times.forEach((t, i) => samples.get(name)![i]!.push(t));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cell = (xs: number[]) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
console.log(`µs per allocate + fill, median of ${values.rounds} interleaved rounds (MALLOC_ARENA_MAX=2)\n`);
console.log(`| MALLOC_MMAP_THRESHOLD_ | ${SIZES.map((s) => `${s / 1000} KB`).join(' | ')} |`);
console.log(`|---|${SIZES.map(() => '---').join('|')}|`);
for (const [name, perSize] of samples) console.log(`| ${name} | ${perSize.map(cell).join(' | ')} |`);
