/**
 * Where a Parquet file's FP32 input is turned row-major, measured: decoded straight into the input's
 * row-major array (ParquetReadOptions.rowMajor, what `vireo batch` does) against one array per column
 * gathered into each batch's tensor (tableToInputs' interleave, the reader without row-major specs). The
 * batch benchmark's shape: 256 FLOAT columns (hyparquet-writer, row groups of 16,384 rows), batches of
 * 256 rows. Rounds alternate the two ways in one process; CPU milliseconds (process.cpuUsage, so the
 * garbage collector's threads count too) to read every row group, and to make every batch's tensor. The
 * row-major arrays are reused from row group to row group as the batch source reuses them (FloatArrays),
 * or, with `--fresh`, allocated for each.
 *
 *   tsx bench/parquet-row-major.ts [--rows 65536] [--columns 256] [--rounds 8] [--fresh]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { sliceTable } from '../src/batch/dataframe-rows.js';
import { openParquet } from '../src/codecs/columnar-files.js';
import { tableToInputs } from '../src/codecs/dataframe-codec.js';
import { FloatArrays } from '../src/codecs/row-major-layout.js';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '65536' }, columns: { type: 'string', default: '256' }, rounds: { type: 'string', default: '8' }, fresh: { type: 'boolean', default: false } } });
const ROWS = Number(args.rows);
const WIDTH = Number(args.columns);
const BATCH = 256;
const names = Array.from({ length: WIDTH }, (_, c) => `f${c}`);
const input = { name: 'INPUT', data_type: 'FP32' as const, dims: [WIDTH], columns: names };
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

const dir = await mkdtemp(join(tmpdir(), 'vireo-parquet-row-major-'));
try {
  const path = join(dir, 'rows.parquet');
  const value = (r: number, c: number) => ((r * 7919 + c * 104729) % 20000) / 10000 - 1;
  await writeFile(path, new Uint8Array(parquetWriteBuffer({
    columnData: names.map((name, c) => ({ name, data: Float32Array.from({ length: ROWS }, (_, r) => value(r, c)), type: 'FLOAT' as const })),
    rowGroupSize: 16384, statistics: false,
  })));
  const ways = { 'row-major (specs)': [{ names, float32: true }], 'per column (no specs)': undefined };
  const results = new Map<string, { read: number[]; tensors: number[] }>();
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const [way, rowMajor] of Object.entries(ways)) {
      const arrays = new FloatArrays();
      const file = await openParquet(path, { rowMajor, arrays });
      let read = 0;
      let tensors = 0;
      for (let group = 0; group < file.rowGroups; group++) {
        const t0 = cpuMs();
        const chunk = await file.read(group);
        const t1 = cpuMs();
        for (let start = 0; start < chunk.rows; start += BATCH) {
          tableToInputs(sliceTable(chunk, start, Math.min(chunk.rows, start + BATCH)), [input], new Map([['INPUT', names]]), true, false);
        }
        if (!args.fresh) arrays.give((chunk.rowMajor ?? []).map((b) => b.data));
        read += t1 - t0;
        tensors += cpuMs() - t1;
      }
      const entry = results.get(way) ?? { read: [], tensors: [] };
      entry.read.push(read);
      entry.tensors.push(tensors);
      results.set(way, entry);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const spread = (xs: number[]) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
  process.stdout.write(`${ROWS} rows × ${WIDTH} FLOAT columns, ${args.rounds} rounds; CPU ms, median (range)\n\n| way | read every row group | every batch's tensor | sum of medians |\n|---|---|---|---|\n`);
  for (const [way, { read, tensors }] of results) process.stdout.write(`| ${way} | ${spread(read)} | ${spread(tensors)} | ${(median(read) + median(tensors)).toFixed(0)} |\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
