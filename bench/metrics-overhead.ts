/**
 * Throughput with metrics on vs off, side by side in one run: `npx tsx bench/metrics-overhead.ts`
 * [--seconds 2] [--rounds 7] [--concurrency 16]. Two servers over the same generated `simple`
 * model (max_batch_size 8, dynamic batching), one recording metrics (scraped once a second, as
 * Prometheus would, only faster) and one without, are driven in alternating rounds so drift on a
 * shared machine hits both alike. Two paths are measured: the facade (InferenceServer.infer,
 * where recording happens) and full HTTP requests. Prints requests/s per configuration (median of
 * rounds) and the median of the per-round on/off ratios (each pair measured back to back).
 */
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { startServer, type RunningServer } from '../src/app/start-server.js';
import { silentLogger } from '../src/logging/logger.js';
import { VireoMetrics } from '../src/metrics/vireo-metrics.js';
import { makeRepository } from '../test/helpers/repository.js';
import { simpleModel } from '../tools/modelgen/models.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, rounds: { type: 'string', default: '7' }, concurrency: { type: 'string', default: '16' } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);

const a = Array.from({ length: 16 }, (_, i) => i);
const body = JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: a }, { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: a }] });
const tensors = () => [
  { name: 'INPUT0', datatype: 'INT32' as const, shape: [1, 16], data: Int32Array.from(a) },
  { name: 'INPUT1', datatype: 'INT32' as const, shape: [1, 16], data: Int32Array.from(a) },
];

async function drive(one: () => Promise<void>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      await one();
      done++;
    }
  }));
  return done / seconds;
}

function httpOnce(url: URL, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The recording itself, isolated: what the scheduler reports for one request run alone (as many
 * pending/busy updates as scheduler.ts makes), timed in a tight loop. Noise on a shared machine
 * inflates it, never hides it.
 */
function recorderNsPerRequest(): number {
  const recorder = new VireoMetrics({ defaultMetrics: false }).recorderFor('simple', '1');
  const timings = { queueNs: 40_000, computeInputNs: 5_000, computeInferNs: 120_000, computeOutputNs: 2_000 };
  const batch = { batchSize: 1, startNs: 0, computeInputNs: 5_000, computeInferNs: 120_000, computeOutputNs: 2_000 };
  const n = 2_000_000;
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      recorder.pending(1);
      recorder.busy(1);
      recorder.batch(batch);
      recorder.request('success', 1, 170_000 + (i & 1023) * 1000, timings);
      recorder.busy(0);
      recorder.pending(0);
    }
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  return best;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const repo = await makeRepository({
    simple: { config: { name: 'simple', max_batch_size: 8, dynamic_batching: { max_queue_delay_microseconds: 100 } }, versions: { 1: simpleModel() } },
  });
  const common = { modelRepository: repo.root, httpPort: 0, httpAddress: '127.0.0.1', logger: silentLogger(), autoComplete: true, defaultMaxBatchSize: 4, strictReadiness: true, bodyLimit: 1 << 26 };
  const servers: Record<'on' | 'off', RunningServer> = {
    on: await startServer({ ...common, metricsPort: 0 }),
    off: await startServer({ ...common, metricsPort: -1 }),
  };
  await Promise.all([servers.on.loaded, servers.off.loaded]);
  const scraper = setInterval(() => { void fetch(`${servers.on.metricsUrl}/metrics`).then((r) => r.text()); }, 1000);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const results: Record<string, number[]> = { 'facade on': [], 'facade off': [], 'http on': [], 'http off': [] };
  try {
    for (const mode of ['on', 'off'] as const) { // warm-up
      await drive(() => servers[mode].server.infer({ model: 'simple', inputs: tensors() }).then(() => undefined));
    }
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      for (const mode of order) {
        results[`facade ${mode}`]!.push(await drive(() => servers[mode].server.infer({ model: 'simple', inputs: tensors() }).then(() => undefined)));
      }
      for (const mode of order) {
        const url = new URL('/v2/models/simple/infer', servers[mode].httpUrl);
        results[`http ${mode}`]!.push(await drive(() => httpOnce(url, agent)));
      }
    }
  } finally {
    clearInterval(scraper);
    agent.destroy();
    await servers.on.close();
    await servers.off.close();
    await repo.cleanup();
  }
  const recordNs = recorderNsPerRequest();
  const offFacade = median(results['facade off']!);
  console.log(`recording cost: ${recordNs.toFixed(0)} ns per request (best of 5 × 2M), ${(recordNs * offFacade / 1e7).toFixed(2)} % of the facade's ${(1e9 / offFacade / 1000).toFixed(1)} µs per request without metrics`);
  console.log(`metrics overhead: ${rounds} alternating rounds of ${seconds} s per configuration, concurrency ${concurrency}`);
  for (const path of ['facade', 'http']) {
    const on = results[`${path} on`]!;
    const off = results[`${path} off`]!;
    const ratio = median(on.map((x, i) => x / off[i]!));
    console.log(`${path.padEnd(7)} median requests/s: metrics on ${median(on).toFixed(0).padStart(6)}, off ${median(off).toFixed(0).padStart(6)}; `
      + `median per-round on/off ${((ratio - 1) * 100).toFixed(1)} %  (on: ${on.map((x) => x.toFixed(0)).join(' ')}; off: ${off.map((x) => x.toFixed(0)).join(' ')})`);
  }
}

await main();
