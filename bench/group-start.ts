/**
 * How long a model group takes to start: the wall time of `vireo batch` over 256 rows of the 75 MB MLP
 * (256→4096→4096→256), whose two instances (`--instances auto` on two cores) each load a session,
 * for one or more checkouts interleaved: `tsx bench/group-start.ts [--rounds 4] <checkout> [<checkout> …]`
 * (a checkout with its node_modules installed or linked). The first round is a warm-up (the sources'
 * compilation cache, the page cache) and is left out of the medians.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { mlpModel } from '../tools/modelgen/models.js';

const { values: args, positionals } = parseArgs({ options: { rounds: { type: 'string', default: '4' } }, allowPositionals: true });
const checkouts = (positionals.length > 0 ? positionals : ['.']).map((c) => resolve(c));
const dir = mkdtempSync(join(tmpdir(), 'vireo-group-start-'));
try {
  const columns = Array.from({ length: 256 }, (_, c) => `f${c}`);
  mkdirSync(join(dir, 'models', 'mlp', '1'), { recursive: true });
  writeFileSync(join(dir, 'models', 'mlp', '1', 'model.onnx'), mlpModel([256, 4096, 4096, 256]));
  writeFileSync(join(dir, 'models', 'mlp', 'config.yaml'), stringify({
    max_batch_size: 256, input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [256], columns }], output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [256] }],
  }));
  const rows = Array.from({ length: 256 }, (_, r) => columns.map((_, c) => (((r + c) % 7) / 7).toFixed(4)).join(','));
  writeFileSync(join(dir, 'rows.csv'), `${columns.join(',')}\n${rows.join('\n')}\n`);
  const times = new Map<string, number[]>();
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const checkout of checkouts) {
      rmSync(join(dir, 'out'), { recursive: true, force: true });
      const started = performance.now();
      const run = spawnSync(process.execPath, [join(checkout, 'bin', 'vireo.js'), 'batch', '--model-repository', join(dir, 'models'), '--model', 'mlp',
        '--input', join(dir, 'rows.csv'), '--output', join(dir, 'out'), '--progress', 'none', '--log-format', 'json'], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`${checkout}: vireo batch failed\n${run.stderr}${run.stdout}`);
      const ms = performance.now() - started;
      if (round > 0) times.set(checkout, [...(times.get(checkout) ?? []), ms]);
      console.log(`round ${round + 1}${round === 0 ? ' (warm-up)' : ''}: ${checkout}: ${(ms / 1000).toFixed(2)} s`);
    }
  }
  for (const [checkout, ms] of times) {
    const sorted = [...ms].sort((a, b) => a - b);
    console.log(`${checkout}: median ${(sorted[Math.floor((sorted.length - 1) / 2)]! / 1000).toFixed(2)} s (${(sorted[0]! / 1000).toFixed(2)}–${(sorted.at(-1)! / 1000).toFixed(2)}) from start to exit`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
