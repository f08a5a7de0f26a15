/**
 * A Parquet LIST column of embeddings (list<float>, 256 values a row) read by `openParquet` as `vireo
 * batch` reads it, in this checkout and in another (the "before": e.g. the commit before
 * src/codecs/parquet-list-columns.ts), rounds interleaved, each reading in a process of its own:
 *
 *   git archive <commit> src | tar -x -C /tmp/before && ln -s "$PWD/node_modules" /tmp/before/node_modules
 *   tsx bench/parquet-list-columns.ts --checkout /tmp/before [--rows 65536] [--width 256] [--rounds 5]
 *
 * Two files of the same values, row groups of 16,384 rows: hyparquet-writer's (v2 pages, snappy) and
 * parquet-wasm's (arrow-rs: v1 pages, zstd, Polars' codec). Per row group (median of the file's groups,
 * then median over rounds with the spread): wall ms of `read`, the main thread's CPU ms in it
 * (/proc/thread-self/schedstat), the most main-thread CPU between two turns of the event loop (longestStretch,
 * the group read a second time; the largest over the file's groups), and the ms to make the FP32 tensor of the group's rows from the column
 * (list-inputs.ts's listTensor, as a batch's input is made). Prints markdown.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Field, FixedSizeList, Float32, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm/node';

const { values: args } = parseArgs({ options: {
  rows: { type: 'string', default: '65536' }, width: { type: 'string', default: '256' }, rounds: { type: 'string', default: '5' },
  checkout: { type: 'string' }, child: { type: 'string' }, file: { type: 'string' },
} });
const width = Number(args.width);
const GROUP_ROWS = 16384;

interface Run { ms: number; cpuMs: number; stretchMs: number; tensorMs: number; checksum: number }

/** The main thread's CPU time (read synchronously: an async read would run on, and report, a libuv thread). */
const threadCpuNs = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * The most main-thread CPU ms `work` takes between two turns of the event loop, read again for it: a
 * setImmediate chain reads the thread's CPU time at every turn, so time the thread is not running (a
 * busy machine, a wait for a read) does not count, as it would in an event-loop delay. (The chain spins
 * while the work waits for reads, so its CPU is not the one reported above.)
 */
async function longestStretch(work: () => Promise<unknown>): Promise<number> {
  let last = threadCpuNs();
  let most = 0;
  let running = true;
  const tick = () => {
    const now = threadCpuNs();
    most = Math.max(most, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await work();
  running = false;
  return Math.max(most, threadCpuNs() - last) / 1e6;
}

/** Child: every row group of `path` through `checkout`'s openParquet; medians over the groups. */
async function readAll(checkout: string, path: string): Promise<void> {
  const { openParquet } = await import(join(checkout, 'src', 'codecs', 'columnar-files.ts')) as typeof import('../src/codecs/columnar-files.js');
  const { listTensor } = await import(join(checkout, 'src', 'codecs', 'list-inputs.ts')) as typeof import('../src/codecs/list-inputs.js');
  const file = await openParquet(path);
  const runs: Run[] = [];
  for (let group = 0; group < file.rowGroups; group++) {
    const cpu0 = threadCpuNs();
    const t0 = performance.now();
    const chunk = await file.read(group);
    const ms = performance.now() - t0;
    const cpuMs = (threadCpuNs() - cpu0) / 1e6;
    const stretchMs = await longestStretch(() => file.read(group));
    const t1 = performance.now();
    const tensor = listTensor(chunk.columns.get('emb'), chunk.rows, { name: 'emb', data_type: 'FP32', dims: [width] }, true, undefined);
    const tensorMs = performance.now() - t1;
    const data = tensor.data as Float32Array;
    runs.push({ ms, cpuMs, stretchMs, tensorMs, checksum: data[0]! + data[data.length - 1]! });
  }
  const of = (key: keyof Run) => median(runs.map((r) => r[key]));
  const result: Run = { ms: of('ms'), cpuMs: of('cpuMs'), stretchMs: Math.max(...runs.map((r) => r.stretchMs)), tensorMs: of('tensorMs'), checksum: runs.reduce((s, r) => s + r.checksum, 0) };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function measure(checkout: string, path: string): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', checkout, '--file', path, '--width', String(width)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c; });
  const code = await new Promise((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`${checkout} exited ${code}`);
  return JSON.parse(out) as Run;
}

if (args.child) {
  await readAll(args.child, args.file!);
} else {
  if (!args.checkout) throw new Error('--checkout DIR: the checkout to compare with (see the header)');
  const rows = Number(args.rows);
  // Distinct values, as embeddings hold (so writers' dictionaries overflow to PLAIN pages, as they do on real embeddings).
const emb = Array.from({ length: rows }, (_, r) => Float32Array.from({ length: width }, (_, i) => Math.sin(r * 12.9898 + i * 78.233)));
  const dir = await mkdtemp(join(tmpdir(), 'vireo-parquet-lists-'));
  try {
    const schema = [
      { name: 'root', num_children: 1 },
      { name: 'emb', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'OPTIONAL', type: 'FLOAT' },
    ];
    const files = {
      'hyparquet-writer (v2, snappy)': new Uint8Array(parquetWriteBuffer({ schema: schema as never, columnData: [{ name: 'emb', data: emb.map((l) => Array.from(l)) as never }], rowGroupSize: GROUP_ROWS, statistics: false })),
      'parquet-wasm (v1, zstd)': writeParquet(
        WasmTable.fromIPCStream(tableToIPC(new Table({ emb: vectorFromArray(emb.map((l) => Array.from(l)), new FixedSizeList(width, new Field('item', new Float32(), true))) }), 'stream')),
        new WriterPropertiesBuilder().setCompression(Compression.ZSTD).setMaxRowGroupSize(GROUP_ROWS).build(),
      ),
    };
    const readers = { before: args.checkout, after: join(import.meta.dirname, '..') };
    const lines = [
      `${rows} rows × a LIST column of ${width} FLOAT values, row groups of ${GROUP_ROWS} rows; per row group: median over the file's groups, then median of ${args.rounds} interleaved rounds (spread), each read in a process of its own.`,
      '',
      '| file | reader | ms a row group | main-thread CPU ms | longest stretch between turns, CPU ms | FP32 tensor from the column, ms |',
      '|---|---|---|---|---|---|',
    ];
    for (const [label, bytes] of Object.entries(files)) {
      const path = join(dir, 'lists.parquet');
      await writeFile(path, bytes);
      const results = new Map<string, Run[]>(Object.keys(readers).map((k) => [k, []]));
      for (let round = 0; round < Number(args.rounds); round++) {
        for (const [name, checkout] of Object.entries(readers)) results.get(name)!.push(await measure(checkout, path));
      }
      const reference = results.get('after')![0]!.checksum;
      for (const [name, runs] of results) for (const run of runs) if (Math.abs(run.checksum - reference) > 1e-3) throw new Error(`${name}: checksum ${run.checksum} ≠ ${reference}`);
      const cell = (runs: Run[], key: keyof Run) => {
        const xs = runs.map((r) => r[key]);
        return `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
      };
      for (const [name, runs] of results) lines.push(`| ${label}, ${(bytes.length / 1024 ** 2).toFixed(0)} MB | ${name} | ${cell(runs, 'ms')} | ${cell(runs, 'cpuMs')} | ${cell(runs, 'stretchMs')} | ${cell(runs, 'tensorMs')} |`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
