/**
 * A benchmark written as a standalone script (`tsx bench/<name>.ts ...` printing markdown and/or
 * writing bench/results/<name>.md) becomes a section of `npm run bench` with one small file in
 * bench/sections/ calling `scriptSection`. The script runs in its own process; its stdout (or the
 * markdown file it writes, when given) is the section's report.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchSection } from './types.js';

export interface ScriptSectionOptions {
  name: string;
  description: string;
  /** Path under bench/. */
  script: string;
  args(quick: boolean): string[];
  /** A markdown file under bench/results/ the script writes; else its stdout is the report. */
  markdownFile?: string;
}

const benchDir = join(import.meta.dirname, '..');

export function scriptSection(options: ScriptSectionOptions): BenchSection {
  return {
    name: options.name,
    description: options.description,
    async run(context) {
      const args = options.args(context.quick);
      const child = spawn(process.execPath, ['--import', 'tsx', join(benchDir, options.script), ...args], { cwd: join(benchDir, '..'), stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout!.on('data', (c: Buffer) => { stdout += c.toString(); });
      const [code] = await once(child, 'exit');
      if (code !== 0) throw new Error(`bench/${options.script} exited with code ${code}`);
      const markdown = options.markdownFile ? await readFile(join(context.resultsDir, options.markdownFile), 'utf8') : stdout;
      return { data: { script: `bench/${options.script}`, args, output: stdout }, markdown: `\`tsx bench/${options.script} ${args.join(' ')}\`\n\n${markdown.trim()}\n` };
    },
  };
}
