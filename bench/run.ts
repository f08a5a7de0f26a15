/**
 * `npm run bench [-- --quick] [-- --only <section>] [-- --profile]`: runs every benchmark section
 * (each module in bench/sections/ that exports `section`, see lib/types.ts), prints a markdown
 * report and writes bench/results/<section>.json, <section>.md and the section's charts.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchContext, BenchSection } from './lib/types.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const sectionsDir = join(import.meta.dirname, 'sections');
const resultsDir = join(import.meta.dirname, 'results');
await mkdir(resultsDir, { recursive: true });

const context: BenchContext = {
  quick,
  log: (message) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`),
  resultsDir,
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadAverage: loadavg(), node: process.version, date: new Date().toISOString() },
};

const sections: BenchSection[] = [];
for (const file of (await readdir(sectionsDir)).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts')).sort()) {
  const module = (await import(pathToFileURL(join(sectionsDir, file)).href)) as { section?: BenchSection };
  if (module.section && (!only || module.section.name === only)) sections.push(module.section);
}
if (sections.length === 0) throw new Error(only ? `no benchmark section named "${only}"` : 'no benchmark sections found');

const command = `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
const report: string[] = [`# Vireo benchmarks`, '', `Command: \`${command}\`, ${context.machine.date}, Node ${context.machine.node}.`, ''];
for (const section of sections) {
  context.log(`section ${section.name}: ${section.description}`);
  const started = Date.now();
  const result = await section.run(context);
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  await writeFile(join(resultsDir, `${section.name}.json`), `${JSON.stringify({ machine: context.machine, command, quick, seconds: Number(seconds), ...result.data as object }, null, 2)}\n`);
  await writeFile(join(resultsDir, `${section.name}.md`), `${result.markdown}\n`);
  for (const [name, svg] of Object.entries(result.charts ?? {})) await writeFile(join(resultsDir, name), svg);
  report.push(`## ${section.name}`, '', result.markdown, `(${seconds} s)`, '');
  context.log(`section ${section.name} done in ${seconds} s`);
}
await writeFile(join(resultsDir, 'README.md'), `${report.join('\n')}\n`);
process.stdout.write(`${report.join('\n')}\n`);
