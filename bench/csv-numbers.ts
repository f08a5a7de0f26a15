/**
 * The CSV number scanner (src/batch/csv-numbers.ts) against what it replaced — `split(',')` then
 * `Number` per cell — on the batch benchmark's rows (256 columns of 4-decimal numbers), interleaved
 * rounds in one process; ns per cell, median (spread).
 *
 *   tsx bench/csv-numbers.ts [--rows 20000] [--rounds 5]
 */
import { parseNumericLine } from '../src/batch/csv-numbers.js';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const ROWS = arg('rows', 20_000);
const ROUNDS = arg('rounds', 5);
const WIDTH = 256;
const value = (r: number, c: number) => ((r * 7919 + c * 104729) % 20000) / 10000 - 1;
const lines = Array.from({ length: ROWS }, (_, r) => Array.from({ length: WIDTH }, (_, c) => value(r, c).toFixed(4)).join(','));
const numeric = Array.from({ length: WIDTH }, () => true);

function splitNumber(): number {
  const columns = numeric.map(() => new Float64Array(ROWS));
  for (let r = 0; r < ROWS; r++) {
    const cells = lines[r]!.split(',');
    for (let c = 0; c < WIDTH; c++) columns[c]![r] = Number(cells[c]!);
  }
  return columns[7]![ROWS - 1]!;
}

function scanner(): number {
  const columns = numeric.map(() => new Float64Array(ROWS));
  const target = { columns, numeric, stride: numeric.map(() => 1), offset: numeric.map(() => 0) };
  for (let r = 0; r < ROWS; r++) if (!parseNumericLine(lines[r]!, r, target)) throw new Error('not clean');
  return columns[7]![ROWS - 1]!;
}

const times: Record<string, number[]> = { 'split + Number': [], scanner: [] };
for (let round = 0; round < ROUNDS + 1; round++) {
  for (const [name, run] of [['split + Number', splitNumber], ['scanner', scanner]] as const) {
    const t0 = performance.now();
    if (run() !== Number(value(ROWS - 1, 7).toFixed(4))) throw new Error(`${name}: wrong value`);
    const ns = ((performance.now() - t0) * 1e6) / (ROWS * WIDTH);
    if (round > 0) times[name]!.push(ns); // round 0 warms the JIT
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(`| cells parsed by | ns per cell, median of ${ROUNDS} (spread) |\n|---|---|\n`);
for (const [name, xs] of Object.entries(times)) process.stdout.write(`| ${name} | ${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}) |\n`);
