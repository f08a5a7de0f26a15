#!/usr/bin/env node
// In a development checkout (sources and tsx present) run the TypeScript sources, so a stale dist/
// can never shadow them; an installed package (it ships src/ and depends on tsx, which loads handler
// models, so it is told apart by living under node_modules/) or a container image (no src/) runs the
// built dist/.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { boundMallocArenas } from './malloc-arenas.js';

// Before anything else loads: `serve` and `batch` may replace this process image (malloc-arenas.js).
boundMallocArenas();

const source = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/cli/main.js', import.meta.url);

function tsxAvailable() {
  try {
    createRequire(import.meta.url).resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

const installed = fileURLToPath(import.meta.url).split(sep).includes('node_modules');

if (!installed && existsSync(source) && tsxAvailable() && process.env.VIREO_USE_DIST !== '1') {
  // The sources compiled by esbuild (bin/source-bundle.js: no loader thread), or through tsx without it.
  const { compiledSources, WORKER_ENTRIES } = await import('./source-bundle.js');
  const compiled = process.env.VIREO_USE_TSX === '1' ? undefined : await compiledSources(new URL('..', import.meta.url));
  if (compiled) {
    globalThis[WORKER_ENTRIES] = { 'pool-worker': compiled['pool-worker'], 'instance-worker': compiled['instance-worker'], 'job-thread': compiled['job-thread'], 'handler-thread': compiled['handler-thread'] };
    await import(pathToFileURL(compiled.main).href);
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    await import(source.href);
  }
} else {
  await import(built.href);
}
