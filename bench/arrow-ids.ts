/**
 * What an output part's id column costs in Arrow (src/codecs/columnar-files.ts `writeArrow`): the
 * 1,024 ids of a part of the batch benchmark written as `vireo batch` writes them (ASCII strings from
 * their text) against the same column built by apache-arrow's `vectorFromArray` (what writeArrow did
 * before), and, for scale, a whole part of that benchmark (the ids and 256 floats a row). Rounds
 * interleaved; ms per part.
 *
 *   tsx bench/arrow-ids.ts [--rounds 5] [--parts 200]
 */
import { parseArgs } from 'node:util';
import { Table, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { writeArrow, type OutputColumn } from '../src/codecs/columnar-files.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, parts: { type: 'string', default: '200' } } });
const ROWS = 1024;
const ids = Array.from({ length: ROWS }, (_, i) => String(100_000 + i));
const output: OutputColumn = { name: 'OUTPUT', type: 'float32', list: true, values: [], flat: { size: 256, data: Float32Array.from({ length: ROWS * 256 }, (_, i) => i / 7) } };
const id: OutputColumn = { name: 'id', type: 'string', list: false, values: ids };

const ways: [string, () => Uint8Array][] = [
  ['the id column, as writeArrow writes it', () => writeArrow([id])],
  ['the id column through vectorFromArray', () => tableToIPC(new Table({ id: vectorFromArray(ids, new Utf8()) }), 'file')],
  ['a whole part (ids and 256 floats a row), as writeArrow writes it', () => writeArrow([id, output])],
];
const times = new Map<string, number[]>(ways.map(([name]) => [name, []]));
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [name, write] of ways) {
    const start = performance.now();
    for (let i = 0; i < Number(values.parts); i++) write();
    times.get(name)!.push((performance.now() - start) / Number(values.parts));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(`| way | ms per 1,024-row part (median of ${values.rounds} rounds; spread) |\n|---|---|\n`);
for (const [name, xs] of times) process.stdout.write(`| ${name} | ${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}) |\n`);
