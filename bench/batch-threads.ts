/**
 * Where `vireo batch`'s CPU goes, per thread: the MLP of bench/batch.ts over a generated CSV (or
 * Parquet) file, with each thread's user and system CPU seconds read from /proc/<pid>/task/<tid>/stat
 * every 100 ms (the main thread is the one whose id is the process's). Answers "how much CPU runs
 * beside onnxruntime's intra-op threads", which bounds `vireo batch` against the in-process ceiling.
 * Two views: the whole run (start and model load included), and the steady state — from the sample
 * right after 20 % of the parts were committed to the one right after the last part but one (the
 * start and the end left out), which is what a long job spends per row. For the steady state it also
 * prints rows/s and how busy the process kept the cores (raw onnxruntime keeps ≈ 98 % of them busy).
 *
 *   tsx bench/batch-threads.ts [--rows 40000] [--part-rows 4096] [--format csv|parquet] [--hidden 4096] [--checkout DIR] [--node-args '--trace-gc …'] [--job-args '--max-inflight 5']
 *
 * `--hidden`: the MLP's two hidden widths (a smaller one runs faster, as on a fast day of the machine,
 * so the job's own work beside onnxruntime weighs more). The steady state also gives the share of the
 * time onnxruntime's threads slept (neither running nor waiting for a core, from
 * /proc/<pid>/task/<tid>/schedstat): waiting for their next batch.
 *
 * `--checkout`: run another checkout's bin/vireo.js (e.g. the main branch, for a before/after).
 * `--node-args`: V8/Node flags for the job's process; what V8 traces on stdout (lines starting with `[`,
 * such as --trace-gc's) goes to stderr: `… --node-args=--trace-gc 2>&1 | grep Mark-Compact`.
 * `--job-args`: more options for `vireo batch` itself.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { stringify } from 'yaml';
import { mlpModel } from '../tools/modelgen/models.js';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '40000' }, 'part-rows': { type: 'string', default: '4096' }, hidden: { type: 'string', default: '4096' }, format: { type: 'string', default: 'csv' }, checkout: { type: 'string', default: join(import.meta.dirname, '..') }, 'node-args': { type: 'string', default: '' }, 'job-args': { type: 'string', default: '' } } });
const ROWS = Number(args.rows);
const FORMAT = args.format === 'parquet' ? 'parquet' : 'csv';
const WIDTH = 256;
const PART_ROWS = Number(args['part-rows']);
const dir = await mkdtemp(join(tmpdir(), 'vireo-batch-threads-'));
try {
  const columns = Array.from({ length: WIDTH }, (_, c) => `f${c}`);
  await mkdir(join(dir, 'models', 'mlp', '1'), { recursive: true });
  await writeFile(join(dir, 'models', 'mlp', '1', 'model.onnx'), mlpModel([WIDTH, Number(args.hidden), Number(args.hidden), 256]));
  await writeFile(join(dir, 'models', 'mlp', 'config.yaml'), stringify({
    max_batch_size: 256, input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [WIDTH], columns }],
    output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [256] }], dynamic_batching: { max_queue_delay_microseconds: 500 },
  }));
  const value = (r: number, c: number) => ((r * 7919 + c * 104729) % 20000) / 10000 - 1;
  const input = join(dir, `rows.${FORMAT}`);
  if (FORMAT === 'csv') {
    const out = createWriteStream(input);
    out.write(`${columns.join(',')}\n`);
    for (let r = 0; r < ROWS; r++) {
      if (!out.write(`${columns.map((_, c) => value(r, c).toFixed(4)).join(',')}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve) => out.end(() => resolve()));
  } else {
    const data = columns.map((_, c) => Float32Array.from({ length: ROWS }, (_, r) => value(r, c)));
    await writeFile(input, new Uint8Array(parquetWriteBuffer({ columnData: columns.map((name, c) => ({ name, data: data[c]!, type: 'FLOAT' as const })), rowGroupSize: 16384, statistics: false })));
  }

  const output = join(dir, 'out');
  const child = spawn(process.execPath, [...args['node-args']!.split(' ').filter(Boolean), join(args.checkout!, 'bin', 'vireo.js'), 'batch', '--model-repository', join(dir, 'models'), '--model', 'mlp',
    '--input', input, '--output', output, '--batch-size', '256', '--part-rows', String(PART_ROWS), '--output-format', 'arrow', '--log-format', 'json', '--progress', 'none', ...args['job-args']!.split(' ').filter(Boolean)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const threads = new Map<string, { user: number; system: number }>();

  /** Committed parts and every thread's CPU seconds, sampled together. */
  const samples: { parts: number; at: number; cpu: Map<string, number>; scheduled: Map<string, number> }[] = [];
  const poll = setInterval(() => {
    void (async () => {
      const at = performance.now();
      const parts = (await readdir(join(output, 'parts')).catch(() => [])).filter((f) => f.endsWith('.manifest.json')).length;
      const cpu = new Map<string, number>();
      // Seconds each thread ran or waited for a core (schedstat's first two fields, in ns).
      const scheduled = new Map<string, number>();
      for (const tid of await readdir(`/proc/${child.pid}/task`).catch(() => [])) {
        const stat = await readFile(`/proc/${child.pid}/task/${tid}/stat`, 'utf8').catch(() => '');
        if (!stat) continue;
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const t = { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
        threads.set(tid, t);
        cpu.set(tid, t.user + t.system);
        const sched = await readFile(`/proc/${child.pid}/task/${tid}/schedstat`, 'utf8').catch(() => '');
        if (sched) scheduled.set(tid, sched.split(' ').slice(0, 2).reduce((sum, ns) => sum + Number(ns) / 1e9, 0));
      }
      samples.push({ parts, at, cpu, scheduled });
    })();
  }, 100);
  await new Promise((resolve) => child.once('exit', resolve));
  clearInterval(poll);
  // V8's traces share the job's stdout with its summary: they go to stderr, the summary is the last JSON line.
  const lines = stdout.split('\n');
  for (const line of lines) if (line.startsWith('[')) process.stderr.write(`${line}\n`);
  const summary = JSON.parse(lines.filter((line) => line.startsWith('{')).at(-1)!) as { rows: number; rowsPerSecond: number; seconds: number };
  const rows = [...threads].map(([tid, t]) => ({ tid, ...t, total: t.user + t.system })).sort((a, b) => b.total - a.total);
  const total = rows.reduce((sum, r) => sum + r.total, 0);

  // Steady state: between two samples taken right after a commit, from 20 % of the parts to the last but one.
  const lastPart = Math.ceil(summary.rows / PART_ROWS) - 1;
  const afterCommit = samples.filter((s, i) => i > 0 && s.parts > samples[i - 1]!.parts && s.parts < lastPart);
  const from = afterCommit.find((s) => s.parts >= 0.2 * lastPart);
  const to = afterCommit.at(-1);
  const steadyRows = from && to ? (to.parts - from.parts) * PART_ROWS : 0;
  const steady = (tid: string) => (steadyRows > 0 ? (((to!.cpu.get(tid) ?? 0) - (from!.cpu.get(tid) ?? 0)) * 1e6) / steadyRows : Number.NaN);

  process.stdout.write(`vireo batch, ${ROWS} rows of ${FORMAT.toUpperCase()} → Arrow: ${summary.rowsPerSecond.toFixed(0)} rows/s, ${summary.seconds.toFixed(1)} s; CPU per thread (the main thread marked); µs per row over the whole run and in the steady state (${steadyRows} rows)\n\n`);
  process.stdout.write('| thread | user s | system s | share | µs per row | steady µs per row |\n|---|---|---|---|---|---|\n');
  for (const r of rows.filter((x) => x.total >= 0.05)) {
    process.stdout.write(`| ${r.tid}${r.tid === String(child.pid) ? ' (main)' : ''} | ${r.user.toFixed(2)} | ${r.system.toFixed(2)} | ${((100 * r.total) / total).toFixed(1)} % | ${((r.total * 1e6) / ROWS).toFixed(0)} | ${steady(r.tid).toFixed(0)} |\n`);
  }
  // onnxruntime's intra-op threads: the two busiest (the execution worker's own thread runs the session too).
  const [ort1, ort2] = rows;
  const beside = total - ort1!.total - ort2!.total;
  const steadyBeside = [...threads.keys()].filter((tid) => tid !== ort1!.tid && tid !== ort2!.tid).reduce((sum, tid) => sum + (steady(tid) || 0), 0);
  process.stdout.write(`| all | | | 100 % | ${((total * 1e6) / ROWS).toFixed(0)} | ${[...threads.keys()].reduce((sum, tid) => sum + (steady(tid) || 0), 0).toFixed(0)} |\n`);
  process.stdout.write(`| beside the two busiest (onnxruntime's) | | | ${((100 * beside) / total).toFixed(1)} % | ${((beside * 1e6) / ROWS).toFixed(0)} | ${steadyBeside.toFixed(0)} |\n`);
  if (steadyRows > 0) {
    // What the steady state did with the machine: rows/s, and the share of its cores busy in the job's process
    // (the rest is idle, or another process's). Both cores busy with onnxruntime alone is the ceiling.
    const seconds = (to!.at - from!.at) / 1000;
    const cpu = [...threads.keys()].reduce((sum, tid) => sum + (to!.cpu.get(tid) ?? 0) - (from!.cpu.get(tid) ?? 0), 0);
    const ortBusy = ((to!.cpu.get(ort1!.tid) ?? 0) - (from!.cpu.get(ort1!.tid) ?? 0) + (to!.cpu.get(ort2!.tid) ?? 0) - (from!.cpu.get(ort2!.tid) ?? 0)) / (2 * seconds);
    const slept = [ort1!, ort2!].map((t) => 1 - ((to!.scheduled.get(t.tid) ?? 0) - (from!.scheduled.get(t.tid) ?? 0)) / seconds);
    process.stdout.write(`\nsteady state: ${(steadyRows / seconds).toFixed(0)} rows/s over ${seconds.toFixed(1)} s; the process kept ${((100 * cpu) / (availableParallelism() * seconds)).toFixed(0)} % of ${availableParallelism()} cores busy, onnxruntime's two threads ${(100 * ortBusy).toFixed(0)} % of the time; they slept ${slept.map((x) => `${(100 * x).toFixed(1)} %`).join(' and ')} of it\n`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
