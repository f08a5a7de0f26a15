/**
 * The Parquet reader for `vireo batch`, measured before choosing (issue 14 asks for it): hyparquet with
 * hyparquet-compressors (pure JavaScript; what src/codecs/columnar-files.ts uses) against parquet-wasm
 * (Rust's parquet crate compiled to WebAssembly, read through apache-arrow), both streaming one row group
 * at a time from a local file (hyparquet by byte ranges; parquet-wasm from `fs.openAsBlob`, a lazily read
 * Blob), on the same generated file, rounds interleaved, each in a process of its own for a clean peak RSS.
 *
 *   tsx bench/parquet-readers.ts [--rows 200000] [--columns 256] [--rounds 3]
 *
 * Prints markdown: seconds to read every row group into column arrays (what the batch runner maps to
 * requests), rows/s, and the reading process's peak RSS (VmHWM). A third reader, hyparquet's
 * parquetRead alone (the reader before src/codecs/parquet-flat-columns.ts), shows what that fast path
 * saves.
 */
import { spawn } from 'node:child_process';
import { openAsBlob } from 'node:fs';
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
  const wasm = await import('parquet-wasm/node');
  const { tableFromIPC } = await import('apache-arrow');
  let started = performance.now();
  let rows = 0;
  let checksum = 0;
  if (reader === 'hyparquet, parquetRead only') {
    // hyparquet's general path alone, as the reader was before src/codecs/parquet-flat-columns.ts:
    // parquetRead per row group, every column assembled. The file is read into memory first (before
    // the clock), which spares this reader the I/O the others pay.
    const { parquetMetadata, parquetRead } = await import('hyparquet');
    const { compressors } = await import('hyparquet-compressors');
    const bytes = await readFile(path);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const file = { byteLength: buffer.byteLength, slice: async (start: number, end?: number) => buffer.slice(start, end) };
    const metadata = parquetMetadata(buffer);
    const clock = performance.now();
    let first = 0;
    for (const group of metadata.row_groups) {
      const n = Number(group.num_rows);
      await parquetRead({ file, metadata, rowStart: first, rowEnd: first + n, compressors, onChunk: (chunk) => {
        checksum += Number(chunk.columnData[0]) + Number(chunk.columnData[chunk.columnData.length - 1]);
      } });
      rows += n;
      first += n;
    }
    started = clock; // the in-memory read is not counted
  } else if (reader === 'hyparquet') {
    // What `vireo batch` reads with (hyparquet and hyparquet-compressors), row group by row group.
    const file = await openParquet(path);
    for (let group = 0; group < file.rowGroups; group++) {
      const chunk = await file.read(group);
      rows += chunk.rows;
      for (const values of chunk.columns.values()) checksum += Number(values[0]) + Number(values[chunk.rows - 1]);
    }
  } else {
    // parquet-wasm from a lazily read Blob, row group by row group, columns as typed arrays.
    const file = await wasm.ParquetFile.fromFile(await openAsBlob(path));
    const groups = file.metadata().numRowGroups();
    for (let group = 0; group < groups; group++) {
      const table = tableFromIPC((await file.read({ rowGroups: [group] })).intoIPCStream());
      rows += table.numRows;
      for (const field of table.schema.fields) {
        const values = table.getChild(field.name)!.toArray() as Float32Array;
        checksum += values[0]! + values[table.numRows - 1]!;
      }
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
    const results = new Map<string, { seconds: number; rows: number; checksum: number; peakRss: number }[]>([['hyparquet', []], ['hyparquet, parquetRead only', []], ['parquet-wasm', []]]);
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const reader of results.keys()) results.get(reader)!.push(await measure(reader, path));
    }
    const [reference] = results.get('hyparquet')!;
    for (const [reader, runs] of results) {
      for (const run of runs) if (run.rows !== rows || Math.abs(run.checksum - reference!.checksum) > 1e-3) throw new Error(`${reader} read ${run.rows} rows, checksum ${run.checksum} ≠ ${reference!.checksum}`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const lines = [
      `Parquet file: ${rows} rows × ${names.length} FLOAT columns, row groups of 16,384 rows, ${(bytes / 1024 ** 2).toFixed(0)} MB (hyparquet-writer's defaults: OPTIONAL columns, v2 data pages, snappy); median of ${values.rounds} interleaved rounds, spread in brackets.`,
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
