/**
 * deploy/: the Grafana dashboard JSON and the Prometheus alert rules parse, have the expected
 * shape, and use only metrics a real Vireo server exports (its /metrics, scraped here).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { simpleModel } from '../../tools/modelgen/models.js';
import { parsePrometheusText, type Family } from '../helpers/prom-text.js';
import { isExported, metricNames } from '../helpers/promql-names.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const root = join(import.meta.dirname, '..', '..', 'deploy');

function dashboardExprs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) dashboardExprs(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if ((k === 'expr' || k === 'definition') && typeof v === 'string') out.push(v);
      else dashboardExprs(v, out);
    }
  }
  return out;
}

describe('PromQL metric-name extraction', () => {
  it('finds series names and ignores functions, labels, ranges, strings and variables', () => {
    const expr = 'histogram_quantile(0.99, sum by (le, model) (rate(foo_seconds_bucket{a="b{c}", model=~"$model"}[$__rate_interval])))'
      + ' / on (model) group_left bar_total offset 1h and baz > 1e3 or sum(x_count) without (instance)';
    assert.deepEqual([...metricNames(expr)].sort(), ['bar_total', 'baz', 'foo_seconds_bucket', 'x_count']);
    assert.deepEqual([...metricNames('label_values(vireo_model_ready, model)')], ['vireo_model_ready']);
  });

  it('accepts histogram suffixes only on histogram families', () => {
    const families = parsePrometheusText('# TYPE h histogram\n# TYPE c_total counter\n# TYPE g gauge\n');
    assert.ok(isExported('h_bucket', families) && isExported('h_sum', families) && isExported('h_count', families));
    assert.ok(!isExported('h', families));
    assert.ok(isExported('c_total', families) && isExported('g', families));
    assert.ok(!isExported('g_count', families) && !isExported('c_total_sum', families) && !isExported('nope', families));
  });
});

describe('dashboards and alerts', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let families: Map<string, Family>;

  before(async () => {
    const repo = await makeRepository({ simple: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } } });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { metricsPort: 0 });
    families = parsePrometheusText(await (await fetch(`${server.metricsUrl}/metrics`)).text());
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  it('the Grafana dashboard parses and every panel queries exported metrics', async () => {
    const dashboard = JSON.parse(await readFile(join(root, 'grafana', 'vireo.json'), 'utf8'));
    assert.equal(dashboard.uid, 'vireo-overview');
    const titles = dashboard.panels.map((p: { title: string }) => p.title);
    for (const t of ['Request rate', 'Request latency p50 / p95 / p99', 'Queue time p50 / p95 / p99', 'Batch-size distribution', 'Errors by reason', 'Model readiness']) {
      assert.ok(titles.includes(t), t);
    }
    const latency = dashboard.panels.find((p: { title: string }) => p.title === 'Request latency p50 / p95 / p99');
    assert.deepEqual(latency.targets.map((t: { expr: string }) => /histogram_quantile\((0\.\d+)/.exec(t.expr)?.[1]), ['0.5', '0.95', '0.99']);
    const exprs = dashboardExprs(dashboard);
    assert.ok(exprs.length >= 20);
    const missing = exprs.flatMap((e) => [...metricNames(e)].filter((n) => !isExported(n, families)).map((n) => `${n} in ${e}`));
    assert.deepEqual(missing, []);
    assert.ok(new Set(exprs.flatMap((e) => [...metricNames(e)])).size >= 15);
  });

  it('the alert rules parse, are complete, and use exported metrics', async () => {
    const rules = parse(await readFile(join(root, 'prometheus', 'vireo-alerts.yaml'), 'utf8'));
    const all = rules.groups.flatMap((g: { rules: unknown[] }) => g.rules) as { alert: string; expr: string; for: string; labels: { severity: string }; annotations: { summary: string } }[];
    assert.deepEqual(all.map((r) => r.alert).sort(),
      ['VireoClientErrorRate', 'VireoEventLoopLag', 'VireoHighErrorRate', 'VireoModelNotReady', 'VireoQueueFull', 'VireoQueueSaturated', 'VireoRequestBacklog']);
    // The server-error alert counts no client error; the client-error alert counts the refused requests.
    const serverErrors = all.find((r) => r.alert === 'VireoHighErrorRate')!.expr;
    assert.match(serverErrors, /BACKEND_EXECUTE/);
    assert.doesNotMatch(serverErrors, /INPUT_|REQUEST_MALFORMED|rejected/);
    assert.match(all.find((r) => r.alert === 'VireoClientErrorRate')!.expr, /vireo_rejected_requests_total/);
    for (const r of all) {
      assert.match(r.for, /^\d+[smh]$/, r.alert);
      assert.ok(['warning', 'critical'].includes(r.labels.severity), r.alert);
      assert.ok(r.annotations.summary.length > 0, r.alert);
      assert.equal((r.expr.match(/\(/g) ?? []).length, (r.expr.match(/\)/g) ?? []).length, `${r.alert}: balanced parentheses`);
      const names = [...metricNames(r.expr)];
      assert.ok(names.length > 0, r.alert);
      assert.deepEqual(names.filter((n) => !isExported(n, families)), [], r.alert);
    }
  });

  it('the prometheus-adapter rules serve an exported gauge as the pods metric the generated HPAs read', async () => {
    const values = parse(await readFile(join(root, 'prometheus-adapter', 'vireo-rules.yaml'), 'utf8'));
    const [rule] = values.rules.custom;
    assert.deepEqual([...metricNames(rule.seriesQuery)], ['vireo_pending_requests']);
    assert.equal(families.get('vireo_pending_requests')?.type, 'gauge');
    assert.equal(rule.name.as, 'vireo_pending_requests');
    assert.deepEqual(rule.resources.overrides, { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });
    assert.match(rule.metricsQuery, /<<\.LabelMatchers>>/);
  });
});
