/**
 * Profiles Vireo's main thread under load: `tsx bench/profile.ts [workload] [variant] [concurrency] [seconds]`
 * (defaults: simple dynamic 16 5). Starts `vireo serve` with --cpu-prof, drives it with the load
 * generator, stops it, and prints the functions with the most self time (the .cpuprofile stays in
 * bench/results/profiles/ for Chrome DevTools or speedscope). `VIREO_ROOT=<another checkout>` (node_modules
 * linked) profiles that checkout's server on the same repository, for a before/after.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { runLoad, startVireo } from './lib/processes.js';
import { selfTimes } from './lib/profile-summary.js';
import { buildRepository, workloads } from './lib/workloads.js';

const [name = 'simple', variant = 'dynamic', concurrency = '16', seconds = '5'] = process.argv.slice(2);
const dir = join(import.meta.dirname, 'results', 'profiles');
const workload = workloads(false).find((w) => w.name === name);
if (!workload) throw new Error(`unknown workload ${name}`);
const repo = await buildRepository([workload], join(import.meta.dirname, '..', 'examples', 'models', 'ocr_rec', '1', 'model.onnx'));
const started = Date.now();
const server = await startVireo(repo.root, ['--cpu-prof', '--cpu-prof-dir', dir], [], process.env.VIREO_ROOT || undefined);
const result = await runLoad({ url: `${server.url}/v2/models/${name}_${variant}/infer`, ...repo.requests[name]!, concurrency: Number(concurrency), warmupMs: 1000, durationMs: Number(seconds) * 1000 });
await server.stop();
await repo.cleanup();
console.log(`${name}_${variant} at concurrency ${concurrency}: ${result.throughput.toFixed(0)} items/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, errors ${result.errors}`);
const files = await Promise.all((await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).map(async (f) => ({ f, t: (await stat(join(dir, f))).mtimeMs })));
// Every thread writes its own profile, named CPU.<date>.<time>.<pid>.<thread id>.<n>.cpuprofile: report
// the main thread's (thread id 0), the one that runs the HTTP routes (an instance worker's time belongs
// to onnxruntime, or to its parking in Atomics.wait, which a profile counts as busy). The thread id, not
// the functions' files, tells it: from a checkout the sources run as one compiled bundle.
const main = files.filter((x) => x.t >= started && /\.\d+\.0\.\d+\.cpuprofile$/.test(x.f)).sort((a, b) => b.t - a.t).map((x) => {
  const rows = selfTimes(JSON.parse(readFileSync(join(dir, x.f), 'utf8')));
  const busy = rows.filter((r) => !r.name.startsWith('(idle)')).reduce((a, r) => a + r.ms, 0);
  return { ...x, rows, busy };
})[0];
if (!main) throw new Error('no profile was written');
console.log(`profile: ${join(dir, main.f)} (busy ${main.busy.toFixed(0)} ms)`);
for (const row of main.rows.slice(0, 40)) {
  console.log(`${(row.share * 100).toFixed(1).padStart(5)} %  ${row.ms.toFixed(0).padStart(7)} ms  ${row.name}`);
}
