/**
 * Large but admitted REST bodies against `vireo serve` (examples/models, loopback): how long one request
 * holds the server, and whether the time grows with the body (linear) or faster. Each shape is sent at
 * two sizes, the second twice the first; a ratio near 2 is linear. The parameters case runs once with
 * the default `--max-request-parameters` (refused, 413) and once on a second server started with the
 * bound lifted, which is what a server without it did (README, "Limits").
 *
 *   tsx bench/hostile-bodies.ts
 *
 * Prints markdown: body, bytes, status, milliseconds until the answer.
 */
import { join } from 'node:path';
import { startVireo, type ServerProcess } from './lib/processes.js';

const repository = join(import.meta.dirname, '..', 'examples', 'models');
const columns = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
const parameters = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, 1]));
const tabularInput = { name: 'INPUT', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] };

const rows: string[] = [];
async function time(server: ServerProcess, what: string, body: string, type: string): Promise<void> {
  const started = performance.now();
  const response = await fetch(`${server.url}/v2/models/tabular/infer`, { method: 'POST', body, headers: { 'content-type': type } });
  await response.arrayBuffer();
  rows.push(`| ${what} | ${body.length} | ${response.status} | ${(performance.now() - started).toFixed(0)} |`);
}

const bounded = await startVireo(repository);
const unbounded = await startVireo(repository, [], ['--max-request-parameters', String(1 << 20)]);
try {
  for (const records of [1000, 2000]) {
    const c = columns(2048);
    await time(bounded, `JSON records, ${records} × 2,048 columns`, JSON.stringify(Array.from({ length: records }, () => Object.fromEntries(c.map((k) => [k, 1])))), 'application/json');
    await time(bounded, `JSON columns, 2,048 × ${2 * records} rows`, JSON.stringify(Object.fromEntries(c.map((k) => [k, Array.from({ length: 2 * records }, () => 1)]))), 'application/json');
    await time(bounded, `CSV, 2,048 columns × ${2 * records} rows`, [c.join(','), ...Array.from({ length: 2 * records }, () => c.map(() => '1').join(','))].join('\n'), 'text/csv');
  }
  for (const n of [400_000, 800_000]) {
    const body = JSON.stringify({ parameters: parameters(n), inputs: [tabularInput] });
    await time(bounded, `${n} request parameters, default bound`, body, 'application/json');
    await time(unbounded, `${n} request parameters, bound lifted`, body, 'application/json');
  }
} finally {
  await bounded.stop();
  await unbounded.stop();
}
process.stdout.write(`| body | bytes | status | ms |\n|---|---|---|---|\n${rows.join('\n')}\n`);
