// Live statistics of one model: rates from two snapshots of the statistics extension
// (GET /v2/models/{m}/stats: cumulative counts and nanoseconds), latency percentiles from the
// Prometheus histograms (GET /console/api/metrics) between the same two moments, as
// histogram_quantile computes them (linear within the bucket).
import { fill, fmt, getJson, h } from './dom.js';

/** Prometheus text → Map(series name → [{labels, value}]) for the lines the console reads. */
export function parseMetrics(text) {
  const series = new Map();
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...match[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    const list = series.get(match[1]) ?? [];
    list.push({ labels, value: Number(match[3]) });
    series.set(match[1], list);
  }
  return series;
}

/** Cumulative bucket counts (le → count, summed over the model's versions), ascending by le. */
function buckets(series, name, model) {
  const byLe = new Map();
  for (const { labels, value } of series.get(name) ?? []) {
    if (labels.model !== model) continue;
    const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + value);
  }
  return [...byLe].sort((a, b) => a[0] - b[0]);
}

/** The q-quantile of the observations between two cumulative histograms (seconds), or undefined. */
export function quantile(q, now, before = []) {
  const previous = new Map(before);
  const counts = now.map(([le, count]) => [le, count - (previous.get(le) ?? 0)]);
  const total = counts.at(-1)?.[1] ?? 0;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const [le, count] of counts) {
    if (count >= rank) {
      if (le === Infinity) return lowerLe;
      return lowerLe + ((le - lowerLe) * (rank - lowerCount)) / Math.max(1e-12, count - lowerCount);
    }
    lowerLe = le;
    lowerCount = count;
  }
  return undefined;
}

function sum(series, name, model) {
  return (series.get(name) ?? []).filter((s) => s.labels.model === model).reduce((total, s) => total + s.value, 0);
}

function totals(stats) {
  const t = { inferences: 0, executions: 0, success: 0, fail: 0, queueNs: 0, queueCount: 0, inferNs: 0, inferCount: 0, batches: new Map() };
  for (const s of stats.model_stats) {
    t.inferences += s.inference_count;
    t.executions += s.execution_count;
    t.success += s.inference_stats.success.count;
    t.fail += s.inference_stats.fail.count;
    t.queueNs += s.inference_stats.queue.ns;
    t.queueCount += s.inference_stats.queue.count;
    t.inferNs += s.inference_stats.compute_infer.ns;
    t.inferCount += s.inference_stats.compute_infer.count;
    for (const b of s.batch_stats) t.batches.set(b.batch_size, (t.batches.get(b.batch_size) ?? 0) + b.compute_infer.count);
  }
  return t;
}

const stat = (label, value, unit = '') => h('div', { class: 'stat', 'data-stat': label }, h('b', {}, value, unit ? ` ${unit}` : ''), h('span', {}, label));

function batchBars(batches) {
  const sizes = [...batches.keys()].sort((a, b) => a - b);
  if (sizes.length === 0) return h('p', { class: 'note' }, 'No batches run yet.');
  const most = Math.max(...batches.values());
  return h('div', {},
    h('div', { class: 'bars', title: 'executions per batch size since start' },
      sizes.map((size) => {
        const bar = h('div', { title: `batch size ${size}: ${batches.get(size)} executions` });
        // Through the CSSOM: the page's CSP forbids style attributes.
        bar.style.height = `${Math.max(2, (batches.get(size) / most) * 60)}px`;
        return bar;
      })),
    h('div', { class: 'bars-labels' }, sizes.map((size) => h('span', {}, size))));
}

/** Polls every `intervalMs` while the model is shown; returns a stop function. */
export function watchStatistics(container, model, withMetrics, intervalMs = 2000) {
  let previous;
  let stopped = false;
  let timer;
  const tick = async () => {
    try {
      const [stats, metricsText] = await Promise.all([
        getJson(`/v2/models/${encodeURIComponent(model)}/stats`),
        withMetrics ? fetch('/console/api/metrics').then((r) => (r.ok ? r.text() : '')) : Promise.resolve(''),
      ]);
      if (stopped) return;
      const now = { at: performance.now(), totals: totals(stats), series: parseMetrics(metricsText) };
      render(container, model, now, previous, withMetrics);
      previous = now;
    } catch (error) {
      if (!stopped) fill(container, h('p', { class: 'note' }, `Statistics unavailable: ${error.message}`));
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function render(container, model, now, previous, withMetrics) {
  const t = now.totals;
  const seconds = previous ? (now.at - previous.at) / 1000 : 0;
  const rate = (value, before) => (previous && seconds > 0 ? (value - before) / seconds : undefined);
  const latency = buckets(now.series, 'vireo_request_duration_seconds_bucket', model);
  const latencyBefore = previous ? buckets(previous.series, 'vireo_request_duration_seconds_bucket', model) : [];
  // Percentiles over the last interval; while nothing arrived in it, over everything since start.
  const recent = (latency.at(-1)?.[1] ?? 0) > (latencyBefore.at(-1)?.[1] ?? 0);
  const p = (q) => quantile(q, latency, recent ? latencyBefore : []);
  const ms = (seconds) => (seconds === undefined ? undefined : seconds * 1000);
  fill(container,
    h('div', { class: 'grid' },
      stat('inferences/s', fmt(rate(t.inferences, previous?.totals.inferences))),
      stat('requests/s', fmt(rate(t.success, previous?.totals.success))),
      withMetrics && stat(recent ? 'p50 latency (last interval)' : 'p50 latency (since start)', fmt(ms(p(0.5))), 'ms'),
      withMetrics && stat(recent ? 'p99 latency (last interval)' : 'p99 latency (since start)', fmt(ms(p(0.99))), 'ms'),
      stat('avg queue time', fmt(t.queueCount ? t.queueNs / t.queueCount / 1e6 : undefined), 'ms'),
      stat('avg compute (infer)', fmt(t.inferCount ? t.inferNs / t.inferCount / 1e6 : undefined), 'ms'),
      withMetrics && stat('queued or running now', fmt(sum(now.series, 'vireo_pending_requests', model))),
      withMetrics && stat('instances busy now', fmt(sum(now.series, 'vireo_instances_busy', model))),
      stat('inferences (total)', t.inferences),
      stat('executions (total)', t.executions),
      stat('failed requests (total)', t.fail),
    ),
    h('h3', {}, 'Batch sizes'),
    batchBars(t.batches),
    !withMetrics && h('p', { class: 'note' }, 'Latency percentiles need the metrics registry (the server runs with --allow-metrics=false).'),
  );
}
