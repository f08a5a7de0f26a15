/** docs/metrics.md documents exactly the vireo_* families the registry exports: name, type, labels, help. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { VireoMetrics } from '../../src/metrics/vireo-metrics.js';

const docs = join(import.meta.dirname, '..', '..', 'docs', 'metrics.md');

it('docs/metrics.md lists every vireo_* metric with its type, labels and help, and nothing else', async () => {
  const documented = new Map<string, { type: string; labels: string; help: string }>();
  for (const line of (await readFile(docs, 'utf8')).split('\n')) {
    const m = /^\| `(vireo_[a-z_]+)` \| (\w+) \| ([^|]+) \| (.+) \|$/.exec(line);
    if (m) documented.set(m[1]!, { type: m[2]!, labels: m[3]!.trim(), help: m[4]!.trim() });
  }
  const metrics = new VireoMetrics({ defaultMetrics: false });
  // The batch API's families exist once a server with --batch-dir watches its jobs.
  metrics.watchBatches(() => ({ jobs: new Map(), requestsCompleted: 0, requestsFailed: 0, rows: { total: 0, completed: 0, failed: 0 }, storageBytes: 0 }));
  const exported = new Map<string, { type: string; labels: string; help: string }>();
  for (const family of await metrics.registry.getMetricsAsJSON()) {
    if (!family.name.startsWith('vireo_')) continue;
    const labelNames = (metrics.registry.getSingleMetric(family.name) as unknown as { labelNames: string[] }).labelNames;
    exported.set(family.name, { type: String(family.type), labels: labelNames.length ? labelNames.join(', ') : '—', help: family.help });
  }
  assert.ok(exported.size >= 17);
  assert.deepEqual([...documented.keys()].sort(), [...exported.keys()].sort());
  for (const [name, doc] of documented) assert.deepEqual(doc, exported.get(name), name);
});

it('the batch API\'s families are exported only by a registry that watches batch jobs (a server with --batch-dir)', async () => {
  const API = ['vireo_batch_jobs', 'vireo_batch_requests_total', 'vireo_batch_rows', 'vireo_batch_storage_bytes'];
  const names = async (metrics: VireoMetrics) => (await metrics.registry.getMetricsAsJSON()).map((f) => f.name).filter((n) => API.includes(n));
  const plain = new VireoMetrics({ defaultMetrics: false });
  assert.deepEqual(await names(plain), []);
  plain.watchBatches(() => ({ jobs: new Map([['completed', 2]]), requestsCompleted: 5, requestsFailed: 1, rows: { total: 6, completed: 5, failed: 1 }, storageBytes: 10 }));
  assert.deepEqual((await names(plain)).sort(), API);
  assert.match(await plain.registry.metrics(), /^vireo_batch_jobs\{status="completed"\} 2$/m);
});
