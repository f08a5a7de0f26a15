/** Imports point down the layers (docs/ARCHITECTURE.md): checked on every source file. */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { it } from 'node:test';

const src = join(import.meta.dirname, '..', '..', 'src');

/** Which top-level folders of src/ each folder may import from. */
const ALLOWED: Record<string, string[]> = {
  core: ['core'],
  logging: ['logging'],
  backends: ['backends', 'core'],
  scheduler: ['scheduler', 'backends', 'core'],
  codecs: ['codecs', 'core'],
  repository: ['repository', 'codecs', 'scheduler', 'backends', 'core', 'logging'],
  server: ['server', 'repository', 'codecs', 'scheduler', 'core', 'logging'],
  // `batch`: only protocols/openai-batch (the server's /v1/batches runs on the batch engine), see below.
  protocols: ['protocols', 'server', 'codecs', 'core', 'logging', 'scheduler', 'repository', 'batch'],
  // The batch engine (`vireo batch` and `/v1/batches`): calls the facade, reuses the batch concatenation;
  // no wire code (the OIP JSON parser is handed in by its callers).
  batch: ['batch', 'server', 'codecs', 'core', 'logging', 'scheduler', 'repository'],
  metrics: ['metrics', 'scheduler', 'core', 'server', 'logging'],
  tracing: ['tracing', 'scheduler', 'core', 'logging'],
  app: ['*'],
  cli: ['*'],
  client: ['client', 'core'],
  packaging: ['packaging', 'repository', 'core'],
  perf: ['perf', 'client', 'core'],
};

/** Third-party modules that only one layer may use. */
const EXCLUSIVE: Record<string, string> = {
  'onnxruntime-node': 'backends',
  fastify: 'protocols',
  'fastify-plugin': 'protocols',
  '@fastify/swagger': 'protocols',
  '@fastify/swagger-ui': 'protocols',
  '@grpc/grpc-js': 'protocols',
  'grpc-health-check': 'protocols',
  sharp: 'codecs',
  'apache-arrow': 'codecs',
  hyparquet: 'codecs',
  'hyparquet-compressors': 'codecs',
  'parquet-wasm': 'codecs',
  'hyparquet-writer': 'codecs',
  '@huggingface/tokenizers': 'codecs',
  'prom-client': 'metrics',
  '@opentelemetry/api': 'tracing',
  '@opentelemetry/core': 'tracing',
  '@opentelemetry/sdk-trace-base': 'tracing',
  '@opentelemetry/sdk-trace-node': 'tracing',
  '@opentelemetry/exporter-trace-otlp-http': 'tracing',
  '@opentelemetry/resources': 'tracing',
  koffi: 'core',
};

async function* files(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

it('every import respects the layer rules', async () => {
  const violations: string[] = [];
  for await (const file of files(src)) {
    const rel = relative(src, file);
    const layer = rel.includes('/') ? rel.split('/')[0]! : 'app';
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      const spec = match[1]!;
      if (spec.startsWith('.')) {
        const target = relative(src, join(file, '..', spec)).split('/')[0]!;
        const allowed = ALLOWED[layer] ?? [layer];
        if (!allowed.includes('*') && !allowed.includes(target)) violations.push(`${rel} imports ${spec} (${layer} → ${target})`);
      } else {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        const owner = EXCLUSIVE[pkg];
        if (owner && owner !== layer && !(layer === 'client' && pkg === '@grpc/grpc-js')) violations.push(`${rel} imports ${pkg}, which only ${owner}/ may use`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

it('the pages for people (console, API docs) use only the facade and the shared HTTP code', async () => {
  const violations: string[] = [];
  for (const folder of ['console-http', 'openapi']) {
    for await (const file of files(join(src, 'protocols', folder))) {
      const text = await readFile(file, 'utf8');
      for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const target = relative(src, join(file, '..', match[1]!));
        if (!/^(server|core|protocols\/(http-common|console-http|openapi))\//.test(target)) violations.push(`${relative(src, file)} imports ${target}`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

it('among the protocols only /v1/batches (protocols/openai-batch) calls the batch engine', async () => {
  const violations: string[] = [];
  for await (const file of files(join(src, 'protocols'))) {
    const rel = relative(src, file);
    if (rel.startsWith('protocols/openai-batch/')) continue;
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      if (relative(src, join(file, '..', match[1]!)).startsWith('batch/')) violations.push(`${rel} imports ${match[1]}`);
    }
  }
  assert.deepEqual(violations, []);
});

it('the protocols reach the repository only through the facade, never through the server\'s `repository`', async () => {
  // Imports of repository/ types are allowed (ALLOWED above); a property access `.repository` is a frontend
  // calling past the facade. `.repositoryIndex(` and the like are facade methods (no word boundary there).
  const violations: string[] = [];
  for await (const file of files(join(src, 'protocols'))) {
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines.forEach((line, i) => { if (/\.repository\b/.test(line)) violations.push(`${relative(src, file)}:${i + 1}: ${line.trim()}`); });
  }
  assert.deepEqual(violations, []);
});
