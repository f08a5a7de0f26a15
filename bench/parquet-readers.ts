/**
 * The Parquet reader for `vireo batch`, measured before choosing (issue 14 asks for it): hyparquet
 * (pure JavaScript, the reader before) against parquet-wasm (Rust's parquet crate compiled to
 * WebAssembly, read through apache-arrow: what src/codecs/columnar-files.ts uses now), both streaming
 * one row group at a time from a local file (hyparquet by byte ranges; parquet-wasm from
 * `fs.openAsBlob`, a lazily read Blob), on the same generated file, rounds interleaved, each in a
 * process of its own for a clean peak RSS.
 *
 *   tsx bench/parquet-readers.ts [--rows 200000] [--columns 256] [--rounds 3]
 *
 * Prints markdown: seconds to read every row group into column arrays (what the batch runner maps to
 * requests), rows/s, and the reading process's peak RSS (VmHWM).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parquetWriteBuffer } from 'hyparquet-writer';

const { values } = parseArgs({ options: {
  rows: { type: 'string', default: '200000' }, columns: { type: 'string', default: '256' }, rounds: { type: 'string', default: '3' },
  child: { type: 'string' }, file: { type: 'string' },
} });

/** One reader over the whole file (child mode): prints {seconds, rows, checksum, peakRss}. */
async function readAll(reader: string, path: string): Promise<void> {
  // Modules load before the clock starts: the comparison is of reading, not of start-up.
  const { openParquet } = await import('../src/codecs/columnar-files.js');
  const { asyncBufferFromFile, parquetMetadataAsync, parquetRead } = await import('hyparquet');
  const started = performance.now();
  let rows = 0;
  let checksum = 0;
  if (reader === 'hyparquet') {
    // As src/codecs/columnar-files.ts read Parquet before: a row group at a time into value arrays.
    const file = await asyncBufferFromFile(path);
    const metadata = await parquetMetadataAsync(file);
    const names = metadata.schema.slice(1).map((e) => e.name);
    let rowStart = 0;
    for (const group of metadata.row_groups) {
      const count = Number(group.num_rows);
      const rowEnd = rowStart + count;
      const columns = new Map<string, unknown[]>(names.map((n) => [n, new Array<unknown>(count)]));
      await parquetRead({ file, metadata, rowStart, rowEnd, columns: names, onChunk: (chunk) => {
        const target = columns.get(chunk.columnName)!;
        const from = Math.max(rowStart, chunk.rowStart);
        const to = Math.min(rowEnd, chunk.rowStart + chunk.columnData.length);
        for (let r = from; r < to; r++) target[r - rowStart] = chunk.columnData[r - chunk.rowStart];
      } });
      rows += count;
      for (const values of columns.values()) checksum += Number(values[0]) + Number(values[count - 1]);
      rowStart = rowEnd;
    }
  } else {
    // What `vireo batch` reads with now (parquet-wasm).
    const file = await openParquet(path);
    for (let group = 0; group < file.rowGroups; group++) {
      const chunk = await file.read(group);
      rows += chunk.rows;
      for (const values of chunk.columns.values()) checksum += Number(values[0]) + Number(values[chunk.rows - 1]);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const peakRss = Number(/VmHWM:\s+(\d+)/.exec(await readFile('/proc/self/status', 'utf8'))![1]) * 1024;
  process.stdout.write(`${JSON.stringify({ seconds, rows, checksum, peakRss })}\n`);
}

async function measure(reader: string, path: string): Promise<{ seconds: number; rows: number; checksum: number; peakRss: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', reader, '--file', path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c; });
  const code = await new Promise((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`${reader} exited ${code}`);
  return JSON.parse(out) as { seconds: number; rows: number; checksum: number; peakRss: number };
}

if (values.child) {
  await readAll(values.child, values.file!);
} else {
  const rows = Number(values.rows);
  const names = Array.from({ length: Number(values.columns) }, (_, c) => `f${c}`);
  const dir = await mkdtemp(join(tmpdir(), 'vireo-parquet-'));
  const path = join(dir, 'rows.parquet');
  try {
    const columnData = names.map((name, c) => ({ name, type: 'FLOAT' as const, data: Float32Array.from({ length: rows }, (_, r) => ((r * 7919 + c * 104729) % 20000) / 10000 - 1) }));
    await writeFile(path, new Uint8Array(parquetWriteBuffer({ columnData, rowGroupSize: 16384, statistics: false })));
    const bytes = (await stat(path)).size;
    const results = new Map<string, { seconds: number; rows: number; checksum: number; peakRss: number }[]>([['hyparquet', []], ['parquet-wasm', []]]);
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const reader of results.keys()) results.get(reader)!.push(await measure(reader, path));
    }
    const [reference] = results.get('hyparquet')!;
    for (const [reader, runs] of results) {
      for (const run of runs) if (run.rows !== rows || Math.abs(run.checksum - reference!.checksum) > 1e-3) throw new Error(`${reader} read ${run.rows} rows, checksum ${run.checksum} ≠ ${reference!.checksum}`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const lines = [
      `Parquet file: ${rows} rows × ${names.length} FLOAT columns, row groups of 16,384 rows, ${(bytes / 1024 ** 2).toFixed(0)} MB (hyparquet-writer, uncompressed pages as written); median of ${values.rounds} interleaved rounds, spread in brackets.`,
      '',
      '| reader | seconds to read every row group | rows/s | peak RSS of the reading process |',
      '|---|---|---|---|',
      ...[...results].map(([reader, runs]) => {
        const s = runs.map((r) => r.seconds);
        return `| ${reader} | ${median(s).toFixed(2)} (${Math.min(...s).toFixed(2)}–${Math.max(...s).toFixed(2)}) | ${(rows / median(s)).toFixed(0)} | ${(median(runs.map((r) => r.peakRss)) / 1024 ** 2).toFixed(0)} MB |`;
      }),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
