/**
 * What the hardware alone does to a real-time model's tail when a batch job runs beside it — no server,
 * no Vireo: two onnxruntime sessions of the batch-api bench's MLP in one process (bench/lib/interference-thread.mjs).
 * The real-time session runs one row at a time, open-loop at a fixed rate (a share of the rate it runs
 * back to back), at normal priority; the job's session runs full batches on one thread at nice 19 and
 * SCHED_IDLE, as Vireo's background instance does. Phases, interleaved in every round:
 * - `none`: the real-time session alone;
 * - `job`: the job runs throughout (the kernel preempts it whenever a real-time thread wants a core);
 * - `polite`: the job starts a run only while no real-time run is in flight (a run is never preempted
 *   by the scheduler, so this is the most any design that lets a job run can do).
 * Reports the real-time run's p50 / p99 (ms) and the job's rows/s as a share of the capacity left over
 * (what the job makes alone × (1 − the real-time load)). This is the floor under issue 15's
 * p99 bound: if the p99 of the model's own run rises by more than 20 % here, no server design can keep
 * real-time p99 within 20 % while a job on the same cores keeps its share.
 *
 *   tsx bench/interference.ts [--mlp 256,1024,1024,64] [--load 0.4] [--seconds 4] [--rounds 5] [--job-batch 32] [--intra-op 2]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnWorkerEntry } from '../src/core/esm-bundle.js';
import { mlpModel } from '../tools/modelgen/models.js';
import type { ThreadData } from './lib/interference-thread.js';

const { values: args } = parseArgs({
  options: {
    mlp: { type: 'string', default: '256,1024,1024,64' },
    load: { type: 'string', default: '0.4' },
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '5' },
    'job-batch': { type: 'string', default: '32' },
    'intra-op': { type: 'string', default: '2' },
  },
});
const SIZES = args.mlp!.split(',').map(Number);
const SECONDS = Number(args.seconds);
const THREAD = new URL('./lib/interference-thread.ts', import.meta.url);

interface Common { modelPath: string; width: number }

function start(role: ThreadData['role'], common: Common, extra: Pick<ThreadData, 'intraOpThreads' | 'batch' | 'gapMs' | 'polite'>, flags: SharedArrayBuffer): { ready: Promise<void>; result: Promise<Record<string, unknown>> } {
  const workerData: ThreadData = { role, ...common, ...extra, flags };
  const worker = spawnWorkerEntry(THREAD, { workerData });
  let readyResolve!: () => void;
  const ready = new Promise<void>((resolve) => { readyResolve = resolve; });
  const result = new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.on('message', (m: Record<string, unknown>) => (m.ready ? readyResolve() : resolve(m)));
    worker.once('error', reject);
  });
  return { ready, result };
}

/** Runs the phase for SECONDS; returns the real-time durations (ms) and the job's rows/s. */
async function phase(common: Common, realtime: { gapMs: number } | undefined, job: { polite: boolean } | undefined): Promise<{ durations: number[]; jobRowsPerSecond?: number }> {
  const flags = new SharedArrayBuffer(8);
  const rt = realtime && start('realtime', common, { intraOpThreads: Number(args['intra-op']), gapMs: realtime.gapMs }, flags);
  const jb = job && start('job', common, { intraOpThreads: 1, batch: Number(args['job-batch']), polite: job.polite }, flags);
  await Promise.all([rt?.ready, jb?.ready]);
  // Both sessions are loaded and warm; the clock starts now for both.
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  Atomics.store(new Int32Array(flags), 0, 1);
  const [r, j] = await Promise.all([rt?.result, jb?.result]);
  return { durations: (r?.durations as number[] | undefined) ?? [], jobRowsPerSecond: j ? (j.rows as number) / (j.seconds as number) : undefined };
}

const quantile = (xs: number[], q: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]!; };
const median = (xs: number[]) => quantile(xs, 0.5);

const dir = await mkdtemp(join(tmpdir(), 'vireo-interference-'));
try {
  const common: Common = { modelPath: join(dir, 'mlp.onnx'), width: SIZES[0]! };
  await writeFile(common.modelPath, mlpModel(SIZES, 3));
  // The real-time session back to back (its capacity), and the job alone: the references.
  const alone = await phase(common, { gapMs: 0 }, undefined);
  const meanMs = alone.durations.reduce((a, b) => a + b, 0) / alone.durations.length;
  const gapMs = meanMs / Number(args.load);
  process.stderr.write(`[interference] real-time run ${meanMs.toFixed(3)} ms back to back; paced every ${gapMs.toFixed(3)} ms (${(Number(args.load) * 100).toFixed(0)} % of one session's capacity)\n`);
  const rows: Record<string, { p50: number[]; p99: number[]; job: number[] }> = { none: { p50: [], p99: [], job: [] }, job: { p50: [], p99: [], job: [] }, polite: { p50: [], p99: [], job: [] } };
  const jobAlone: number[] = [];
  for (let round = 0; round < Number(args.rounds); round++) {
    jobAlone.push((await phase(common, undefined, { polite: false })).jobRowsPerSecond!);
    for (const name of ['none', 'job', 'polite'] as const) {
      const run = await phase(common, { gapMs }, name === 'none' ? undefined : { polite: name === 'polite' });
      rows[name]!.p50.push(quantile(run.durations, 0.5));
      rows[name]!.p99.push(quantile(run.durations, 0.99));
      if (run.jobRowsPerSecond !== undefined) rows[name]!.job.push(run.jobRowsPerSecond);
      process.stderr.write(`[interference] round ${round + 1} ${name}: p50 ${quantile(run.durations, 0.5).toFixed(3)} p99 ${quantile(run.durations, 0.99).toFixed(3)} ms${run.jobRowsPerSecond ? `, job ${run.jobRowsPerSecond.toFixed(0)} rows/s` : ''}\n`);
    }
  }
  const spread = (xs: number[], d: number) => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
  const baseP99 = median(rows.none!.p99);
  const leftOver = median(jobAlone) * (1 - Number(args.load));
  console.log(`| job beside the real-time MLP | real-time run p50 ms | p99 ms | p99 vs none | job rows/s | job ÷ capacity left over (job alone ${median(jobAlone).toFixed(0)} rows/s × ${(1 - Number(args.load)).toFixed(2)}) |`);
  console.log('|---|---|---|---|---|---|');
  for (const [name, r] of Object.entries(rows)) {
    const label = name === 'none' ? 'none' : name === 'job' ? 'runs throughout (SCHED_IDLE)' : 'starts only between real-time runs';
    const p99 = median(r.p99);
    console.log(`| ${label} | ${median(r.p50).toFixed(3)} (${spread(r.p50, 3)}) | ${p99.toFixed(3)} (${spread(r.p99, 3)}) | ${name === 'none' ? '—' : `${p99 >= baseP99 ? '+' : ''}${((p99 / baseP99 - 1) * 100).toFixed(0)} %`} | ${r.job.length ? median(r.job).toFixed(0) : '—'} | ${r.job.length ? (median(r.job) / leftOver).toFixed(2) : '—'} |`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
