/**
 * Line charts as standalone SVG text (no browser, no dependency): one chart per (workload,
 * metric), laid out in a grid. X is categorical (concurrency levels); Y is linear from 0, or
 * logarithmic when asked (latencies spanning decades).
 */
export interface Series { name: string; values: (number | undefined)[] }

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xs: (number | string)[];
  series: Series[];
  logY?: boolean;
}

const PALETTE = ['#222222', '#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const W = 460;
const H = 300;
const M = { left: 64, right: 14, top: 34, bottom: 78 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (v >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : v >= 10 ? String(Math.round(v)) : String(+v.toPrecision(2)));

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((c) => c >= v)!;
}

function chart(spec: ChartSpec, ox: number, oy: number): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const all = spec.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined && v > 0));
  const x = (i: number) => M.left + (spec.xs.length === 1 ? pw / 2 : (i * pw) / (spec.xs.length - 1));
  let y: (v: number) => number;
  const ticks: number[] = [];
  if (spec.logY) {
    const lo = 10 ** Math.floor(Math.log10(Math.min(...all, 1)));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...all, 1)));
    y = (v) => M.top + ph - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1)) * ph;
    for (let t = lo; t <= hi; t *= 10) ticks.push(t);
  } else {
    const hi = niceMax(Math.max(...all, 0));
    y = (v) => M.top + ph - (v / hi) * ph;
    for (let i = 0; i <= 5; i++) ticks.push((hi * i) / 5);
  }
  const parts: string[] = [`<g transform="translate(${ox},${oy})">`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(spec.title)}</text>`];
  for (const t of ticks) {
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${M.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11">${fmt(t)}</text>`);
  }
  spec.xs.forEach((v, i) => parts.push(`<text x="${x(i).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle" font-size="11">${esc(String(v))}</text>`));
  parts.push(`<text x="${M.left + pw / 2}" y="${M.top + ph + 32}" text-anchor="middle" font-size="11">${esc(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(14,${M.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(spec.yLabel)}</text>`);
  spec.series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length]!;
    const points = s.values.map((v, i) => (v !== undefined && v > 0 ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : undefined)).filter(Boolean);
    if (points.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`);
    for (const p of points) {
      const [px, py] = p!.split(',');
      parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${color}"/>`);
    }
    const lx = M.left + (k % 3) * 130;
    const ly = M.top + ph + 48 + Math.floor(k / 3) * 14;
    parts.push(`<rect x="${lx}" y="${ly - 8}" width="10" height="10" fill="${color}"/><text x="${lx + 14}" y="${ly + 1}" font-size="11">${esc(s.name)}</text>`);
  });
  parts.push('</g>');
  return parts.join('\n');
}

/** Charts laid out `columns` per row in one SVG document. */
export function chartGrid(charts: ChartSpec[], columns: number, caption?: string): string {
  const rows = Math.ceil(charts.length / columns);
  const top = caption ? 24 : 0;
  const width = columns * W;
  const height = rows * H + top;
  const body = charts.map((c, i) => chart(c, (i % columns) * W, top + Math.floor(i / columns) * H));
  return [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    caption ? `<text x="8" y="16" font-size="12">${esc(caption)}</text>` : '',
    ...body, '</svg>'].join('\n');
}
