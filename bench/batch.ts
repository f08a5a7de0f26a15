/**
 * `vireo batch` against the hardware limit, side by side in one run:
 * - MLP over N rows (CSV and Parquet): raw onnxruntime in-process at its best batch, in the better (by
 *   median over the run) of one session of all the cores' threads and one single-threaded session per
 *   core (the ceiling) vs
 *   `vireo batch` (rows/s of the job, model load excluded) vs the same rows as single-row requests to
 *   `vireo serve` over HTTP by 32 closed-loop clients;
 * - ocr over generated text images: `vireo batch` images/s and its stage split vs image uploads to
 *   `vireo serve` at concurrency 8;
 * - peak RSS of `vireo batch` over a CSV of ≥ 2 GB generated here (deleted afterwards).
 * Every input is generated in a temporary folder; everything is deleted at the end.
 *
 *   tsx bench/batch.ts [--rows 200000] [--mlp 256,4096,4096,256] [--images 200] [--rss-gb 2.1] [--http-seconds 10]
 *     [--batches 64,128,256] [--rounds 3] [--instances auto,config] [--formats csv,parquet]
 * `--instances` runs every job once per value of `vireo batch --instances` in each round, interleaved;
 * `--http-seconds 0` leaves the HTTP path out.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parquetWriteBuffer } from 'hyparquet-writer';
import sharp from 'sharp';
import { stringify } from 'yaml';
import { USABLE_CORES } from '../src/core/cpu-budget.js';
import { mlpModel } from '../tools/modelgen/models.js';
import { runMinimalPipeline } from './lib/minimal-pipeline.mjs';
import { freePort, runLoad, runRaw } from './lib/processes.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    mlp: { type: 'string', default: '256,4096,4096,256' },
    images: { type: 'string', default: '200' },
    'rss-gb': { type: 'string', default: '2.1' },
    'http-seconds': { type: 'string', default: '10' },
    batches: { type: 'string', default: '64,128,256' },
    /** Rounds of (ceiling, CSV job, ceiling, Parquet job, ceiling): each job is set against the ceiling measured just before and after it. */
    rounds: { type: 'string', default: '3' },
    /** `vireo batch --instances` values, each run in every round (e.g. auto,config: one single-threaded instance per core against the configuration's one instance of two threads). */
    instances: { type: 'string', default: 'auto' },
    formats: { type: 'string', default: 'csv,parquet' },
  },
});
const ROWS = Number(args.rows);
const SIZES = args.mlp!.split(',').map(Number);
const IMAGES = Number(args.images);
const RSS_BYTES = Number(args['rss-gb']) * 1024 ** 3;
const HTTP_MS = Number(args['http-seconds']) * 1000;
const BATCHES = args.batches!.split(',').map(Number);
const ROUNDS = Number(args.rounds);
const INSTANCES = args.instances!.split(',');
const FORMATS = new Set(args.formats!.split(','));
const root = join(import.meta.dirname, '..');
const log = (message: string) => process.stderr.write(`[batch bench] ${message}\n`);

/**
 * Deterministic feature values with 4 decimals, written to CSV as 4 decimals (`toFixed`: JavaScript's
 * shortest form of k/10000 − 1 often has 17 digits, which take V8 several times longer to parse) and
 * to Parquet as the FLOAT nearest the same value.
 */
const value = (r: number, c: number) => ((r * 7919 + c * 104729) % 20000) / 10000 - 1;

interface JobSummary { rows: number; errors: number; seconds: number; rowsPerSecond: number; meanBatchRows: number; stageSeconds: Record<string, number>; peakRssBytes: number }

/** Runs `vireo batch` as the user would; returns its summary, the wall time and the peak RSS seen in /proc. */
async function vireoBatch(argv: string[]): Promise<{ summary: JobSummary; wallSeconds: number; peakRss: number }> {
  const start = performance.now();
  const child = spawn(process.execPath, [join(root, 'bin', 'vireo.js'), 'batch', '--progress', 'none', '--log-format', 'json', ...argv], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => { out += c; });
  child.stderr.on('data', (c: Buffer) => { err += c; });
  let peakRss = 0;
  const timer = setInterval(() => {
    readFile(`/proc/${child.pid}/status`, 'utf8').then((s) => {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0);
      peakRss = Math.max(peakRss, kb * 1024);
    }, () => undefined);
  }, 100);
  const [code] = await once(child, 'exit');
  clearInterval(timer);
  if (code !== 0) throw new Error(`vireo batch failed (${code}): ${err.slice(-2000)}`);
  return { summary: JSON.parse(out.trim().split('\n').at(-1)!), wallSeconds: (performance.now() - start) / 1000, peakRss };
}

async function writeLines(path: string, header: string, rows: number, line: (r: number) => string): Promise<void> {
  const stream = createWriteStream(path);
  stream.write(`${header}\n`);
  for (let r = 0; r < rows; r++) {
    if (!stream.write(`${line(r)}\n`)) await once(stream, 'drain');
  }
  stream.end();
  await once(stream, 'finish');
}

/** `vireo serve` on a free HTTP port, gRPC and metrics off (their default ports may be taken on a shared machine). */
async function startServe(repository: string): Promise<{ url: string; child: ReturnType<typeof spawn>; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin', 'vireo.js'), 'serve', '--model-repository', repository, '--http-port', String(port),
    '--http-address', '127.0.0.1', '--grpc-port', '-1', '--metrics-port', '-1', '--log-format', 'json'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (const started = Date.now(); ; await new Promise((r) => setTimeout(r, 250))) {
    if (child.exitCode !== null) throw new Error(`vireo serve exited with code ${child.exitCode}`);
    if (Date.now() - started > 300_000) throw new Error('vireo serve not ready after 300 s');
    if (await fetch(`${url}/v2/health/ready`).then((r) => r.ok, () => false)) break;
  }
  return {
    url,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MB`;

async function mlpSection(dir: string): Promise<string> {
  const width = SIZES[0]!;
  const model = join(dir, 'mlp.onnx');
  await writeFile(model, mlpModel(SIZES));
  const columns = Array.from({ length: width }, (_, c) => `f${c}`);
  const repo = join(dir, 'models');
  await mkdir(join(repo, 'mlp', '1'), { recursive: true });
  await writeFile(join(repo, 'mlp', '1', 'model.onnx'), await readFile(model));

  log(`ceiling: raw onnxruntime, batches ${BATCHES.join(', ')}`);
  const raw = await runRaw({ modelPath: model, inputs: { INPUT: ['float32', [width]] }, batchSizes: BATCHES, durationMs: 6000, intraOpThreads: USABLE_CORES });
  const best = raw.reduce((a, b) => (b.throughput > a.throughput ? b : a));
  log(`ceiling: ${raw.map((p) => `batch ${p.batch}: ${p.throughput.toFixed(0)} rows/s`).join(', ')}`);
  await writeFile(join(repo, 'mlp', 'config.yaml'), stringify({
    max_batch_size: Math.max(...BATCHES),
    input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [width], columns }],
    output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [SIZES.at(-1)] }],
    dynamic_batching: { max_queue_delay_microseconds: 500 },
  }));

  log(`generating ${ROWS} rows × ${width} columns (CSV, Parquet)`);
  const csv = join(dir, 'rows.csv');
  await writeLines(csv, columns.join(','), ROWS, (r) => columns.map((_, c) => value(r, c).toFixed(4)).join(','));
  const parquet = join(dir, 'rows.parquet');
  {
    const data = columns.map((_, c) => Float32Array.from({ length: ROWS }, (_, r) => value(r, c)));
    await writeFile(parquet, new Uint8Array(parquetWriteBuffer({ columnData: columns.map((name, c) => ({ name, data: data[c]!, type: 'FLOAT' as const })), rowGroupSize: 16384, statistics: false })));
  }
  const [csvBytes, parquetBytes] = [(await stat(csv)).size, (await stat(parquet)).size];

  const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
  // Interleaved: the machine's speed drifts, so every job is divided by the mean of the ceiling
  // measured right before and right after it, and the medians over the rounds are reported.
  const whole = async () => (await runRaw({ modelPath: model, inputs: { INPUT: ['float32', [width]] }, batchSizes: [best.batch], durationMs: 6000, intraOpThreads: USABLE_CORES }))[0]!.throughput;
  // Each input once per `--instances` value: a job is named by both.
  const inputs = ([['CSV', csv, csvBytes], ['Parquet', parquet, parquetBytes]] as const)
    .filter(([name]) => FORMATS.has(name.toLowerCase()))
    .flatMap(([name, input, bytes]) => INSTANCES.map((instances) => [INSTANCES.length > 1 ? `${name}, --instances ${instances}` : name, input, bytes, instances] as const));
  // Both ways raw onnxruntime can use the cores, measured back to back at every point: one session of
  // all the cores' threads, and one single-threaded session per core side by side (as `vireo batch
  // --instances auto` runs the model; their timed loops start together, bench/lib/raw-ort.ts).
  const split = async () => (await runRaw({ modelPath: model, inputs: { INPUT: ['float32', [width]] }, batchSizes: [best.batch], durationMs: 6000, intraOpThreads: 1, sessions: USABLE_CORES }))[0]!.throughput;
  const points: { whole: number; split: number }[] = [];
  const measurePoint = async () => {
    const point = { whole: await whole(), split: await split() };
    points.push(point);
    log(`raw onnxruntime: one session of ${USABLE_CORES} threads ${point.whole.toFixed(0)} rows/s, ${USABLE_CORES} sessions of 1 thread ${point.split.toFixed(0)} rows/s`);
  };
  const jobsRun: { name: string; run: Awaited<ReturnType<typeof vireoBatch>>; point: number }[] = [];
  const minimalRuns: { rowsPerSecond: number; jobRowsPerSecond: number; point: number }[] = [];
  await measurePoint();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, input, , instances] of inputs) {
      log(`round ${round + 1}/${ROUNDS}: vireo batch over ${name}`);
      const run = await vireoBatch(['--model-repository', repo, '--model', 'mlp', '--input', input, '--output', join(dir, 'out'), '--batch-size', String(best.batch), '--output-format', 'arrow', '--instances', instances]);
      if (run.summary.rows !== ROWS || run.summary.errors !== 0) throw new Error(`vireo batch over ${name}: ${JSON.stringify(run.summary)}`);
      await rm(join(dir, 'out'), { recursive: true, force: true });
      log(`vireo batch over ${name}: ${run.summary.rowsPerSecond.toFixed(0)} rows/s, stages ${JSON.stringify(run.summary.stageSeconds)}, peak RSS ${mb(run.peakRss)}`);
      jobsRun.push({ name, run, point: points.length - 1 });
      if (input === csv && instances === INSTANCES[0]) {
        // The hand-written floor over the same file, against the same two ceiling points as the job before it.
        log(`round ${round + 1}/${ROUNDS}: hand-written pipeline over CSV`);
        const minimal = await runMinimalPipeline({ csvPath: csv, outPath: join(dir, 'minimal.out'), modelPath: model, input: 'INPUT', output: 'OUTPUT', width, batch: best.batch, sessions: USABLE_CORES });
        await rm(join(dir, 'minimal.out'), { force: true });
        if (minimal.rows !== ROWS) throw new Error(`hand-written pipeline: ${minimal.rows} rows of ${ROWS}`);
        log(`hand-written pipeline: ${minimal.rowsPerSecond.toFixed(0)} rows/s`);
        minimalRuns.push({ rowsPerSecond: minimal.rowsPerSecond, jobRowsPerSecond: run.summary.rowsPerSecond, point: points.length - 1 });
      }
      await measurePoint();
    }
  }
  // The ceiling is one arrangement: the one with the higher median over the run. (The better of the two
  // at each point would be the larger of two noisy readings, which overstates what either reaches.)
  const arrangement: 'whole' | 'split' = median(points.map((p) => p.split)) > median(points.map((p) => p.whole)) ? 'split' : 'whole';
  const ceilings = points.map((p) => p[arrangement]);
  const runs = new Map<string, { summary: JobSummary; peakRss: number; wallSeconds: number; ratio: number }[]>(inputs.map(([name]) => [name, []]));
  for (const { name, run, point } of jobsRun) {
    const ratio = run.summary.rowsPerSecond / ((ceilings[point]! + ceilings[point + 1]!) / 2);
    log(`vireo batch over ${name}: ${run.summary.rowsPerSecond.toFixed(0)} rows/s between ceilings ${ceilings[point]!.toFixed(0)} and ${ceilings[point + 1]!.toFixed(0)}: ${ratio.toFixed(2)} × ceiling`);
    runs.get(name)!.push({ ...run, ratio });
  }
  const spread = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
  const jobs = inputs.map(([name, , bytes]) => {
    const rs = runs.get(name)!;
    const mid = rs.find((r) => r.ratio === median(rs.map((x) => x.ratio))) ?? rs[0]!;
    const s = mid.summary.stageSeconds;
    return ['', `| \`vireo batch\`, ${name} in (${mb(bytes)}), Arrow out | ${median(rs.map((r) => r.summary.rowsPerSecond)).toFixed(0)} (${spread(rs.map((r) => r.summary.rowsPerSecond), 0)}) | **${median(rs.map((r) => r.ratio)).toFixed(2)} ×** (${spread(rs.map((r) => r.ratio), 2)}) | ${mid.summary.meanBatchRows} | ${mid.summary.seconds.toFixed(1)} s (${mid.wallSeconds.toFixed(1)} s with start and model load) | read ${s.read}, decode ${s.decode}, infer ${s.infer}, encode ${s.encode}, commit ${s.commit} | ${mb(Math.max(...rs.map((r) => r.peakRss)))} |`] as const;
  });

  const minimalRatios = minimalRuns.map((m) => m.rowsPerSecond / ((ceilings[m.point]! + ceilings[m.point + 1]!) / 2));
  const jobOverMinimal = minimalRuns.map((m) => m.jobRowsPerSecond / m.rowsPerSecond);
  const minimalLine = minimalRuns.length === 0 ? [] : [
    `| hand-written floor: CSV scanned straight into batches → ${USABLE_CORES} single-threaded sessions in worker threads → raw float32 file, in order (no ids, format, commit or checks; bench/lib/minimal-pipeline.mjs), right after the CSV job | ${median(minimalRuns.map((m) => m.rowsPerSecond)).toFixed(0)} (${spread(minimalRuns.map((m) => m.rowsPerSecond), 0)}) | ${median(minimalRatios).toFixed(2)} × (${spread(minimalRatios, 2)}); the CSV job ÷ this, paired by round: **${median(jobOverMinimal).toFixed(2)}** (${spread(jobOverMinimal, 2)}) | ${best.batch} | | | |`,
  ];
  let http: Awaited<ReturnType<typeof runLoad>> | undefined;
  if (HTTP_MS > 0) {
    log('the same rows over HTTP to vireo serve, 32 clients');
    const server = await startServe(repo);
    try {
      const body = join(dir, 'row.json');
      await writeFile(body, JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, width], data: columns.map((_, c) => value(1, c)) }] }));
      http = await runLoad({ url: `${server.url}/v2/models/mlp/infer`, bodyFile: body, headers: { 'content-type': 'application/json' }, concurrency: 32, warmupMs: 2000, durationMs: HTTP_MS }, server.child.pid);
    } finally {
      await server.stop();
    }
    log(`HTTP: ${http.throughput.toFixed(0)} rows/s`);
  }
  await rm(csv);
  await rm(parquet);
  return [
    `### MLP ${SIZES.join('→')} over ${ROWS} rows`,
    '',
    '| path | rows/s | × ceiling | rows per batch | job time | busy seconds per stage | peak RSS |',
    '|---|---|---|---|---|---|---|',
    `| ceiling: onnxruntime-node in-process, batch ${best.batch} (best of ${BATCHES.join(', ')} in the first sweep: ${raw.map((p) => `${p.batch}: ${p.throughput.toFixed(0)}`).join(', ')}), ${arrangement === 'split' ? `${USABLE_CORES} sessions of 1 thread` : `one session of ${USABLE_CORES} threads`} (of the two arrangements below, the one with the higher median), at ${ceilings.length} points between the jobs | ${median(ceilings).toFixed(0)} (${spread(ceilings, 0)}) | 1.00 × | ${best.batch} | | | |`,
    `| raw: one session of ${USABLE_CORES} intra-op threads, batch ${best.batch} | ${median(points.map((a) => a.whole)).toFixed(0)} (${spread(points.map((a) => a.whole), 0)}) | | | | | |`,
    `| raw: ${USABLE_CORES} sessions of 1 intra-op thread side by side (as \`--instances auto\` runs the model), batch ${best.batch} | ${median(points.map((a) => a.split)).toFixed(0)} (${spread(points.map((a) => a.split), 0)}) | | | | | |`,
    ...jobs.map(([, line]) => line),
    ...minimalLine,
    ...(http ? [`| \`vireo serve\`, one row per HTTP request (JSON), 32 clients, ${HTTP_MS / 1000} s | ${http.throughput.toFixed(0)} | ${(http.throughput / median(ceilings)).toFixed(2)} × | | p50 ${http.p50.toFixed(1)} ms, ${http.errors} errors | | |`] : []),
    '',
  ].join('\n');
}

async function ocrSection(dir: string): Promise<string> {
  const folder = join(dir, 'scans');
  await mkdir(folder);
  const words = ['invoice', 'total', 'Vireo', 'batch', 'nightly', 'report', 'page', 'amount', 'serving', 'runtime'];
  log(`generating ${IMAGES} text images`);
  for (let i = 0; i < IMAGES; i++) {
    const lines = [0, 1, 2].map((l) => `${words[(i + l) % words.length]} ${words[(i * 3 + l) % words.length]} ${i * 7 + l}`);
    const texts = lines.map((t, l) => `<text x="40" y="${90 + l * 90}" font-family="DejaVu Sans" font-size="44" fill="black">${t}</text>`).join('');
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="330"><rect width="100%" height="100%" fill="white"/>${texts}</svg>`;
    await writeFile(join(folder, `scan-${String(i).padStart(4, '0')}.png`), await sharp(Buffer.from(svg)).png().toBuffer());
  }
  log('vireo batch over the images (ocr)');
  const out = join(dir, 'out-ocr');
  const repo = join(root, 'examples', 'models');
  const run = await vireoBatch(['--model-repository', repo, '--model', 'ocr', '--load-model', 'ocr_det,ocr_cls,ocr_rec', '--input', folder, '--output', out, '--part-rows', '64']);
  const timings = { decode: 0, detect: 0, classify: 0, recognize: 0 } as Record<string, number>;
  let lines = 0;
  for (const file of (await readdir(join(out, 'parts'))).filter((f) => f.endsWith('.jsonl') && !f.endsWith('.errors.jsonl'))) {
    for (const line of (await readFile(join(out, 'parts', file), 'utf8')).trim().split('\n')) {
      const outputs = JSON.parse(line).response.body.outputs as { name: string; data: string[] }[];
      const t = JSON.parse(outputs.find((o) => o.name === 'timings')!.data[0]!) as Record<string, number>;
      for (const [k, v] of Object.entries(t)) timings[k] = (timings[k] ?? 0) + v;
      lines += JSON.parse(outputs.find((o) => o.name === 'lines')!.data[0]!).length;
    }
  }
  log('the same images uploaded to vireo serve, 8 clients');
  const server = await startServe(repo);
  let http;
  try {
    http = await runLoad({ url: `${server.url}/v2/models/ocr/infer`, bodyFile: join(folder, 'scan-0000.png'), headers: { 'content-type': 'image/png' }, concurrency: 8, warmupMs: 3000, durationMs: HTTP_MS }, server.child.pid);
  } finally {
    await server.stop();
  }
  const share = Object.entries(timings).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ');
  return [
    `### ocr over ${IMAGES} generated text images (3 lines each)`,
    '',
    '| path | images/s | notes |',
    '|---|---|---|',
    `| \`vireo batch\` (folder in, JSONL out) | ${run.summary.rowsPerSecond.toFixed(2)} | ${run.summary.rows} images, ${run.summary.errors} errors, ${lines} text lines, ${run.summary.seconds.toFixed(1)} s; job stages (busy s): read ${run.summary.stageSeconds.read}, decode ${run.summary.stageSeconds.decode}, infer ${run.summary.stageSeconds.infer}, encode ${run.summary.stageSeconds.encode}, commit ${run.summary.stageSeconds.commit}; inside the handler (summed over images): ${share}; peak RSS ${mb(run.peakRss)} |`,
    `| \`vireo serve\`, image uploads, 8 clients, ${HTTP_MS / 1000} s | ${http.throughput.toFixed(2)} | p50 ${http.p50.toFixed(0)} ms, ${http.errors} errors |`,
    '',
  ].join('\n');
}

/**
 * Peak RSS over a CSV of ≥ 2 GB: one text column of 64 KiB cells into a TypeScript handler that
 * answers each text's length, so the run measures reading, mapping and writing (the bytes), not a model.
 */
async function rssSection(dir: string): Promise<string> {
  const repo = join(dir, 'rss-models');
  await mkdir(join(repo, 'length', '1'), { recursive: true });
  await writeFile(join(repo, 'length', '1', 'model.js'), `export function execute(requests) {
  return requests.map((r) => ({ outputs: { LENGTH: { data: Int32Array.from(r.inputs.TEXT.data, (b) => b.length), shape: [r.inputs.TEXT.data.length, 1] } } }));
}\n`);
  await writeFile(join(repo, 'length', 'config.yaml'), stringify({
    backend: 'typescript', max_batch_size: 64,
    input: [{ name: 'TEXT', data_type: 'TYPE_STRING', dims: [1] }],
    output: [{ name: 'LENGTH', data_type: 'TYPE_INT32', dims: [1] }],
  }));
  const csv = join(dir, 'large.csv');
  const cell = 64 * 1024;
  const rows = Math.ceil(RSS_BYTES / (cell + 1));
  log(`generating a ${(RSS_BYTES / 1024 ** 3).toFixed(1)} GB CSV (${rows} rows of one ${cell}-byte text cell)`);
  const texts = Array.from({ length: 26 }, (_, k) => String.fromCharCode(97 + k).repeat(cell - (k % 7)));
  await writeLines(csv, 'TEXT', rows, (r) => texts[r % texts.length]!);
  const bytes = (await stat(csv)).size;
  log('vireo batch over it');
  let run;
  try {
    run = await vireoBatch(['--model-repository', repo, '--model', 'length', '--input', csv, '--output', join(dir, 'out-large'), '--output-format', 'csv']);
  } finally {
    await rm(csv, { force: true });
    await rm(join(dir, 'out-large'), { recursive: true, force: true });
  }
  if (run.summary.rows !== rows || run.summary.errors !== 0) throw new Error(`vireo batch over the large CSV: ${JSON.stringify(run.summary)}`);
  log(`large CSV: ${run.summary.rows} rows in ${run.summary.seconds} s, peak RSS ${mb(run.peakRss)}`);
  return [
    '### Memory over a large input',
    '',
    '| input | rows | job time | input MB/s | peak RSS (/proc, sampled every 100 ms) |',
    '|---|---|---|---|---|',
    `| CSV, ${(bytes / 1024 ** 3).toFixed(2)} GB (one 64 KiB text column; generated, deleted afterwards) → a TypeScript handler (text length) | ${run.summary.rows} | ${run.summary.seconds.toFixed(1)} s | ${(bytes / 1024 ** 2 / run.summary.seconds).toFixed(0)} | **${mb(run.peakRss)}** |`,
    '',
  ].join('\n');
}

const dir = await mkdtemp(join(tmpdir(), 'vireo-batch-bench-'));
try {
  const parts = [`${USABLE_CORES} usable cores.`, ''];
  if (ROWS > 0) parts.push(await mlpSection(dir));
  if (IMAGES > 0) parts.push(await ocrSection(dir));
  if (RSS_BYTES > 0) parts.push(await rssSection(dir));
  process.stdout.write(`${parts.join('\n')}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
