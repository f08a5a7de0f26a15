import { spawn } from 'node:child_process';
import { mkdir, writeFile, readFile, readdir } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { mlpModel } from '../tools/modelgen/models.js';
const dir = '/tmp/b14'; const ROWS = Number(process.argv[2] ?? 40000); const width = 256;
const columns = Array.from({ length: width }, (_, c) => `f${c}`);
await mkdir(join(dir, 'models/mlp/1'), { recursive: true });
await writeFile(join(dir, 'models/mlp/1/model.onnx'), mlpModel([256, 4096, 4096, 256]));
await writeFile(join(dir, 'models/mlp/config.yaml'), stringify({ max_batch_size: 256, input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [width], columns }], output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [256] }], dynamic_batching: { max_queue_delay_microseconds: 500 } }));
const value = (r: number, c: number) => ((r * 7919 + c * 104729) % 20000) / 10000 - 1;
const csv = join(dir, 'rows.csv');
try { await readFile(csv + '.done'); } catch {
  const out = createWriteStream(csv); out.write(columns.join(',') + '\n');
  for (let r = 0; r < ROWS; r++) { if (!out.write(columns.map((_, c) => value(r, c).toFixed(4)).join(',') + '\n')) await new Promise(res => out.once('drain', res)); }
  await new Promise(res => out.end(res)); await writeFile(csv + '.done', '');
}
const extra = process.argv.slice(3);
const child = spawn(process.execPath, [...extra, 'bin/vireo.js', 'batch', '--model-repository', join(dir, 'models'), '--model', 'mlp', '--input', csv, '--output', join(dir, 'out-' + Date.now()), '--batch-size', '256', '--output-format', 'arrow'], { stdio: ['ignore', 'pipe', 'inherit'] });
let summary = ''; child.stdout.on('data', d => summary += d);
const last = new Map<string, { comm: string; cpu: number }>();
const poll = setInterval(async () => {
  try { for (const tid of await readdir(`/proc/${child.pid}/task`)) { const s = await readFile(`/proc/${child.pid}/task/${tid}/stat`, 'utf8'); const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); last.set(tid, { comm: comm + ' u' + (Number(f[11])/100).toFixed(2) + ' s' + (Number(f[12])/100).toFixed(2), cpu: (Number(f[11]) + Number(f[12])) / 100 }); } } catch {}
}, 200);
await new Promise(r => child.once('exit', r)); clearInterval(poll);
console.log(summary.split('\n').filter(l => /rows\/s|rows|stage|seconds/i.test(l)).slice(0, 12).join('\n'));
const rows = [...last].sort((a, b) => b[1].cpu - a[1].cpu);
const total = rows.reduce((s, [, v]) => s + v.cpu, 0);
for (const [tid, v] of rows.slice(0, 10)) console.log(tid, v.comm.padEnd(16), v.cpu.toFixed(2), (100 * v.cpu / total).toFixed(1) + '%');
console.log('total cpu', total.toFixed(2));
