/**
 * Batch jobs beside real-time traffic (issue 15): real-time p50/p99 and throughput of `simple` and
 * an MLP at a fixed (open-loop) request rate with no job, with a job on the same model and with a
 * job on the other model, rounds interleaved; and how fast the job progresses against the capacity
 * the real-time traffic leaves over (the job's rate alone × (1 − the real-time share of capacity)).
 *
 *   tsx bench/batch-api.ts [--seconds 4] [--rounds 3] [--load 0.4] [--designs own,shared]
 *
 * A design ending in `@base` runs the server of another checkout, `VIREO_BASELINE=<dir>` (extracted with
 * `git archive <commit> | tar -x -C <dir>` and node_modules linked), side by side with this one.
 *
 * `--designs`: where job work runs (parameters.batch_job_instance): `own`, a background instance at
 * low CPU priority (the default), `shared`, the model's own instances, and `own-nospin`, `own` with
 * onnxruntime's spinning off (parameters.allow_spinning "0"), `own-stopspin`, `own` with onnxruntime's
 * threads spinning within a run but not after it (spin_between_runs "0": what a server with the batch API
 * does by default, so the same as `own`), and `own-spinning`, with them spinning after each run too (spin_between_runs "1"); one server each, phases interleaved
 * round by round.
 * Prints markdown. One Vireo server (`vireo serve --batch-dir`); the open-loop load comes from a process
 * of its own (bench/lib/open-loop.ts: the lean raw-socket client, at most 128 keep-alive connections), so
 * its pauses are not the server's tail; the closed-loop capacity comes from the load generator's process
 * (bench/lib/load-generator.ts), as in the scheduling benchmark.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { stringify } from 'yaml';
import { mlpModel, simpleModel } from '../tools/modelgen/models.js';
import { freePort, runLoad, runOpenLoop } from './lib/processes.js';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const SECONDS = arg('seconds', 4);
const ROUNDS = arg('rounds', 3);
const LOAD = arg('load', 0.4);
/** `own`: job work on a background instance (the default); `shared`: on the model's instances (the design before it). */
const DESIGNS = (process.argv.includes('--designs') ? process.argv[process.argv.indexOf('--designs') + 1]! : 'own,shared').split(',') as Design[];
const MLP = [256, 1024, 1024, 64];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function request(model: string, i: number): object {
  if (model === 'simple') {
    return { inputs: ['INPUT0', 'INPUT1'].map((name, k) => ({ name, shape: [1, 16], datatype: 'INT32', data: Array.from({ length: 16 }, (_, j) => (i + j * (k + 1)) % 100) })) };
  }
  return { inputs: [{ name: 'INPUT', shape: [1, MLP[0]], datatype: 'FP32', data: Array.from({ length: MLP[0]! }, (_, j) => ((i * 7 + j) % 100) / 100) }] };
}

async function api(url: string, path: string, init?: RequestInit): Promise<any> {
  const response = await fetch(url + path, init);
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Closed loop at `concurrency` for `seconds` (the load generator's process): the model's real-time capacity (requests/s). */
async function capacity(url: string, model: string, concurrency: number, seconds: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'vireo-bench-capacity-'));
  try {
    const bodyFile = join(dir, 'body.json');
    await writeFile(bodyFile, JSON.stringify(request(model, 1)));
    const load = await runLoad({ url: `${url}/v2/models/${model}/infer`, bodyFile, headers: { 'content-type': 'application/json' }, concurrency, warmupMs: 0, durationMs: seconds * 1000 });
    if (load.errors > 0) throw new Error(`capacity of ${model}: ${load.errors} errors (${load.firstError})`);
    return load.throughput;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Open loop at `rate` for `seconds`, in a process of its own; `onMeasure`: see runOpenLoop. */
function openLoop(url: string, model: string, rate: number, seconds: number, onMeasure?: (edge: 'start' | 'end') => void) {
  return runOpenLoop({ url: `${url}/v2/models/${model}/infer`, body: JSON.stringify(request(model, 2)), rate, seconds }, onMeasure);
}

/**
 * Each design's model parameters. `own`: job work on a background instance (the default); `shared`: on the
 * model's own instances.
 */
const DESIGN_PARAMETERS = {
  own: { batch_job_instance: 'own' },
  shared: { batch_job_instance: 'shared' },
  /** The models' onnxruntime threads told not to spin. */
  'own-nospin': { batch_job_instance: 'own', allow_spinning: '0' },
  /** onnxruntime's threads stop their spin when a run ends. */
  'own-stopspin': { batch_job_instance: 'own', spin_between_runs: '0' },
  /** onnxruntime's threads spin after each run too. */
  'own-spinning': { batch_job_instance: 'own', spin_between_runs: '1' },
  /**
   * Two intra-op threads, which the background session then uses too (by default it runs on one;
   * real-time sessions on their own thread get cores ÷ instances, 2 here).
   */
  'own-twothreads': { batch_job_instance: 'own', intra_op_threads: '2' },
  /** The job's batches start only between real-time executions. */
  'own-yield': { batch_job_instance: 'own', batch_job_yield: '1' },
} satisfies Record<string, Record<string, string>>;
type Plain = keyof typeof DESIGN_PARAMETERS;
type Design = Plain | `${Plain}@base`;

interface JobServer {
  url: string;
  files: Record<string, string>;
  stop: () => Promise<void>;
}

/** One `vireo serve --batch-dir` whose models run job work per `design` (parameters.batch_job_instance). */
async function startServer(variant: Design): Promise<JobServer> {
  const design = variant.split('@')[0] as Plain;
  const root = await mkdtemp(join(tmpdir(), 'vireo-bench-batch-'));
  const dynamic = { max_queue_delay_microseconds: 500 };
  const parameters = DESIGN_PARAMETERS[design];
  if (!parameters) throw new Error(`unknown design "${variant}" (one of ${Object.keys(DESIGN_PARAMETERS).join(', ')}, each also with @base)`);
  for (const [name, model, config] of [
    ['simple', simpleModel(), { max_batch_size: 8, dynamic_batching: dynamic, parameters }],
    ['mlp', mlpModel(MLP, 3), { max_batch_size: 32, dynamic_batching: dynamic, parameters }],
  ] as const) {
    await mkdir(join(root, 'repo', name, '1'), { recursive: true });
    await writeFile(join(root, 'repo', name, '1', 'model.onnx'), model);
    await writeFile(join(root, 'repo', name, 'config.yaml'), stringify(config));
  }
  const port = await freePort();
  const child = spawn(process.execPath, [variant.includes('@base') ? join(process.env.VIREO_BASELINE!, 'bin', 'vireo.js') : join(import.meta.dirname, '..', 'bin', 'vireo.js'), 'serve', '--model-repository', join(root, 'repo'),
    '--http-port', String(port), '--http-address', '127.0.0.1', '--grpc-port', '-1', '--allow-metrics', 'false', '--batch-dir', join(root, 'batches'),
    '--batch-max-lines', '120000', '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; ; i++) {
      if (await fetch(`${url}/v2/health/ready`).then((r) => r.ok, () => false)) break;
      if (i > 600) throw new Error('server not ready');
      await sleep(200);
    }
    // One input file per model, long enough never to finish within a phase.
    const files: Record<string, string> = {};
    for (const model of ['simple', 'mlp']) {
      const lines = Array.from({ length: model === 'simple' ? 120_000 : 60_000 }, (_, i) => JSON.stringify({ custom_id: `r${i}`, method: 'POST', url: `/v2/models/${model}/infer`, body: request(model, i) }));
      const form = new FormData();
      form.set('purpose', 'batch');
      form.set('file', new Blob([lines.join('\n')]), `${model}.jsonl`);
      files[model] = (await api(url, '/v1/files', { method: 'POST', body: form })).id;
    }
    return { url, files, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function main(): Promise<void> {
  const servers = new Map<Design, JobServer>();
  try {
    for (const design of DESIGNS) servers.set(design, await startServer(design));
    const startJob = async (server: JobServer, model: string) => (await api(server.url, '/v1/batches', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input_file_id: server.files[model], endpoint: `/v2/models/${model}/infer`, completion_window: '24h' }),
    })).id as string;
    const completed = async (server: JobServer, id: string) => (await api(server.url, `/v1/batches/${id}`)).request_counts.completed as number;
    const stopJob = async (server: JobServer, id: string) => {
      // A job that already reached its end (finalizing) cannot be cancelled: it is waited for instead.
      await api(server.url, `/v1/batches/${id}/cancel`, { method: 'POST' }).catch(() => undefined);
      while (!['cancelled', 'completed'].includes((await api(server.url, `/v1/batches/${id}`)).status)) await sleep(100);
    };
    /**
     * The job's rows/s while `during` runs: from its measure-start to its measure-end (the open loop's
     * sending, not its process's start-up), or over the whole call when it marks neither.
     */
    const jobRate = async <T>(server: JobServer, id: string, during: (onMeasure: (edge: 'start' | 'end') => void) => Promise<T>) => {
      while ((await completed(server, id)) === 0) await sleep(50);
      const sample = async () => ({ rows: await completed(server, id), at: performance.now() });
      const before = await sample();
      let from: Promise<{ rows: number; at: number }> | undefined;
      let to: Promise<{ rows: number; at: number }> | undefined;
      const result = await during((edge) => {
        if (edge === 'start') from ??= sample();
        else to ??= sample();
      });
      const [a, b] = await Promise.all([from ?? before, to ?? sample()]);
      return { rate: (b.rows - a.rows) / ((b.at - a.at) / 1000), result };
    };

    // Real-time capacity does not depend on the design: measured once, on the first server.
    const first = servers.get(DESIGNS[0]!)!;
    await capacity(first.url, 'simple', 8, 1);
    await capacity(first.url, 'mlp', 8, 1);
    // The median of three interleaved measurements: one lucky or unlucky second of the machine would set
    // the rate of every phase (a capacity read 2 × too high overloads the real-time model in every phase).
    const samples: Record<string, number[]> = { simple: [], mlp: [] };
    for (let i = 0; i < 3; i++) for (const model of ['simple', 'mlp']) samples[model]!.push(await capacity(first.url, model, 16, SECONDS / 2));
    const caps: Record<string, number> = { simple: median(samples.simple!), mlp: median(samples.mlp!) };
    const alone = new Map<string, number[]>();
    type Row = { p50: number[]; p99: number[]; throughput: number[]; job: number[] };
    const rows = new Map<string, Row>();
    const add = (key: string, r: { p50: number; p99: number; throughput: number }, job = NaN) => {
      const row = rows.get(key) ?? { p50: [], p99: [], throughput: [], job: [] };
      row.p50.push(r.p50); row.p99.push(r.p99); row.throughput.push(r.throughput); row.job.push(job);
      rows.set(key, row);
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const design of DESIGNS) {
        const server = servers.get(design)!;
        await capacity(server.url, 'simple', 4, 0.5);
        for (const jobModel of ['simple', 'mlp']) {
          const id = await startJob(server, jobModel);
          const key = `${design}|${jobModel}`;
          alone.set(key, [...(alone.get(key) ?? []), (await jobRate(server, id, () => sleep(SECONDS * 1000))).rate]);
          await stopJob(server, id);
        }
        for (const model of ['simple', 'mlp']) {
          const rate = Math.round(caps[model]! * LOAD);
          add(`${design}|${model}|none`, await openLoop(server.url, model, rate, SECONDS));
          for (const jobModel of [model, model === 'simple' ? 'mlp' : 'simple']) {
            const id = await startJob(server, jobModel);
            const { rate: jobRows, result } = await jobRate(server, id, (onMeasure) => openLoop(server.url, model, rate, SECONDS, onMeasure));
            add(`${design}|${model}|${jobModel === model ? 'same' : 'other'}`, result, jobRows);
            await stopJob(server, id);
          }
        }
      }
    }
    const out: string[] = [
      `Real-time traffic at ${Math.round(LOAD * 100)} % of each model's closed-loop capacity (simple ${caps.simple!.toFixed(0)}/s, mlp ${caps.mlp!.toFixed(0)}/s at c=16), `
      + `open loop, ${SECONDS} s per phase, median of ${ROUNDS} interleaved rounds (spread in brackets). Job alone (rows/s): `
      + DESIGNS.map((d) => `${d}: simple ${median(alone.get(`${d}|simple`)!).toFixed(0)}, mlp ${median(alone.get(`${d}|mlp`)!).toFixed(0)}`).join('; ') + '.',
      '',
      '| job instance | real-time model | batch job | p50 ms | p99 ms | p99 vs no job | throughput /s | job rows/s | job ÷ leftover capacity |',
      '|---|---|---|---|---|---|---|---|---|',
    ];
    for (const design of DESIGNS) {
      for (const model of ['simple', 'mlp']) {
        const base = median(rows.get(`${design}|${model}|none`)!.p99);
        for (const phase of ['none', 'same', 'other']) {
          const r = rows.get(`${design}|${model}|${phase}`)!;
          const jobModel = phase === 'none' ? '—' : phase === 'same' ? model : (model === 'simple' ? 'mlp' : 'simple');
          const leftover = phase === 'none' ? NaN : median(alone.get(`${design}|${jobModel}`)!) * (1 - LOAD);
          const job = median(r.job);
          out.push(`| ${design} | ${model} | ${phase === 'none' ? 'none' : `on ${jobModel}`} | ${median(r.p50).toFixed(2)} (${spread(r.p50)}) | ${median(r.p99).toFixed(2)} (${spread(r.p99)}) | `
            + `${phase === 'none' ? '—' : `${((median(r.p99) / base - 1) * 100).toFixed(0)} %`} | ${median(r.throughput).toFixed(0)} | ${phase === 'none' ? '—' : job.toFixed(0)} | ${phase === 'none' ? '—' : (job / leftover).toFixed(2)} |`);
        }
      }
    }
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const server of servers.values()) await server.stop();
  }
}

await main();
