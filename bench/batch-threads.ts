/**
 * Where `vireo batch`'s CPU goes, per thread: the MLP of bench/batch.ts over a generated CSV, with
 * each thread's user and system CPU seconds read from /proc/<pid>/task/<tid>/stat until the job
 * ends (the main thread is the one whose id is the process's). Answers "how much CPU runs beside
 * onnxruntime's intra-op threads", which bounds `vireo batch` against the in-process ceiling.
 *
 *   tsx bench/batch-threads.ts [--rows 40000]
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { mlpModel } from '../tools/modelgen/models.js';

const at = process.argv.indexOf('--rows');
const ROWS = at > 0 ? Number(process.argv[at + 1]) : 40_000;
const WIDTH = 256;
const dir = await mkdtemp(join(tmpdir(), 'vireo-batch-threads-'));
try {
  const columns = Array.from({ length: WIDTH }, (_, c) => `f${c}`);
  await mkdir(join(dir, 'models', 'mlp', '1'), { recursive: true });
  await writeFile(join(dir, 'models', 'mlp', '1', 'model.onnx'), mlpModel([WIDTH, 4096, 4096, 256]));
  await writeFile(join(dir, 'models', 'mlp', 'config.yaml'), stringify({
    max_batch_size: 256, input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [WIDTH], columns }],
    output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [256] }], dynamic_batching: { max_queue_delay_microseconds: 500 },
  }));
  const value = (r: number, c: number) => ((r * 7919 + c * 104729) % 20000) / 10000 - 1;
  const csv = join(dir, 'rows.csv');
  const out = createWriteStream(csv);
  out.write(`${columns.join(',')}\n`);
  for (let r = 0; r < ROWS; r++) {
    if (!out.write(`${columns.map((_, c) => value(r, c).toFixed(4)).join(',')}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise((resolve) => out.end(resolve));

  const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'vireo.js'), 'batch', '--model-repository', join(dir, 'models'), '--model', 'mlp',
    '--input', csv, '--output', join(dir, 'out'), '--batch-size', '256', '--output-format', 'arrow', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const threads = new Map<string, { user: number; system: number }>();
  const poll = setInterval(() => {
    void (async () => {
      for (const tid of await readdir(`/proc/${child.pid}/task`).catch(() => [])) {
        const stat = await readFile(`/proc/${child.pid}/task/${tid}/stat`, 'utf8').catch(() => '');
        if (!stat) continue;
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        threads.set(tid, { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 });
      }
    })();
  }, 100);
  await new Promise((resolve) => child.once('exit', resolve));
  clearInterval(poll);
  const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { rowsPerSecond: number; seconds: number };
  const rows = [...threads].map(([tid, t]) => ({ tid, ...t, total: t.user + t.system })).sort((a, b) => b.total - a.total);
  const total = rows.reduce((sum, r) => sum + r.total, 0);
  process.stdout.write(`vireo batch, ${ROWS} rows: ${summary.rowsPerSecond.toFixed(0)} rows/s, ${summary.seconds.toFixed(1)} s; CPU seconds per thread (the main thread marked), µs per row\n\n`);
  process.stdout.write('| thread | user s | system s | share | µs per row |\n|---|---|---|---|---|\n');
  for (const r of rows.filter((x) => x.total >= 0.05)) {
    process.stdout.write(`| ${r.tid}${r.tid === String(child.pid) ? ' (main)' : ''} | ${r.user.toFixed(2)} | ${r.system.toFixed(2)} | ${((100 * r.total) / total).toFixed(1)} % | ${((r.total * 1e6) / ROWS).toFixed(0)} |\n`);
  }
  process.stdout.write(`| all | | | 100 % | ${((total * 1e6) / ROWS).toFixed(0)} |\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
