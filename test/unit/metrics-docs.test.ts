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
