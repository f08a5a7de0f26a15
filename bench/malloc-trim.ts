/**
 * What giving the C heap's free memory back after loads and unloads saves (src/core/native-heap.ts):
 * `vireo serve` started over a repository alternately with VIREO_MALLOC_TRIM=0 (glibc keeps what it
 * freed) and with the default (malloc_trim after each load and unload), its RSS read 3 s after ready,
 * idle. Two repositories: examples/models, and one MLP 256→4096→4096→256 (75 MB of weights, generated
 * with tools/modelgen as bench/batch.ts does). Pairs interleaved; the load/unload cycles are
 * `tsx bench/many-models.ts --only cycles` with and without VIREO_MALLOC_TRIM=0 in the environment.
 *
 *   tsx bench/malloc-trim.ts [--pairs 3]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mlpModel } from '../tools/modelgen/models.js';
import { freePort } from './lib/processes.js';

const { values } = parseArgs({ options: { pairs: { type: 'string', default: '3' } } });
const root = join(import.meta.dirname, '..');

async function idleRss(repository: string, env: Record<string, string>): Promise<number> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin', 'vireo.js'), 'serve', '--model-repository', repository, '--http-port', String(port),
    '--http-address', '127.0.0.1', '--grpc-port', '0', '--metrics-port', '0'], { cwd: root, stdio: 'ignore', env: { ...process.env, ...env } });
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode})`);
      if (await fetch(`http://127.0.0.1:${port}/v2/health/ready`).then((r) => r.ok, () => false)) break;
      if (i > 2400) throw new Error('server not ready after 120 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 3000));
    return Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024;
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
  }
}

const mlpRepo = await mkdtemp(join(tmpdir(), 'vireo-trim-'));
await mkdir(join(mlpRepo, 'mlp', '1'), { recursive: true });
await writeFile(join(mlpRepo, 'mlp', 'config.yaml'), 'backend: onnx\nmax_batch_size: 256\n');
await writeFile(join(mlpRepo, 'mlp', '1', 'model.onnx'), mlpModel([256, 4096, 4096, 256]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: string[] = ['| repository, idle | RSS MiB, VIREO_MALLOC_TRIM=0 | RSS MiB, trimmed (default) | saved, median |', '|---|---|---|---|'];
try {
  for (const [name, repository] of [['examples/models', join(root, 'examples', 'models')], ['one MLP of 75 MB', mlpRepo]] as const) {
    const kept: number[] = [];
    const trimmed: number[] = [];
    for (let p = 0; p < Number(values.pairs); p++) {
      kept.push(await idleRss(repository, { VIREO_MALLOC_TRIM: '0' }));
      trimmed.push(await idleRss(repository, {}));
      process.stderr.write(`[malloc-trim] ${name}: pair ${p + 1}: ${kept.at(-1)!.toFixed(0)} / ${trimmed.at(-1)!.toFixed(0)} MiB\n`);
    }
    const f = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' / ');
    rows.push(`| ${name} | ${f(kept)} | ${f(trimmed)} | ${(median(kept) - median(trimmed)).toFixed(0)} MiB |`);
  }
} finally {
  await rm(mlpRepo, { recursive: true, force: true });
}
console.log(rows.join('\n'));
