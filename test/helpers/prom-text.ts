/**
 * A small, independent parser of the Prometheus text exposition format (version 0.0.4), so tests
 * read /metrics as Prometheus would rather than through prom-client: HELP and TYPE per family,
 * samples with label escapes (\\, \", \n), +Inf/-Inf/NaN values. Throws on any malformed line.
 */
export interface Sample { name: string; labels: Record<string, string>; value: number }
export interface Family { name: string; help?: string; type?: string; samples: Sample[] }

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;

/** As Prometheus reads values (Go's ParseFloat): Inf and NaN in any letter case. */
function parseValue(text: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  const n = Number(text);
  if (Number.isNaN(n)) throw new Error(`bad sample value ${text}`);
  return n;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`bad labels ${text}`);
    const name = text.slice(i, eq).trim();
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || text[eq + 1] !== '"') throw new Error(`bad label in ${text}`);
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        value += next === 'n' ? '\n' : next;
      } else {
        value += text[j];
      }
    }
    if (j >= text.length) throw new Error(`unterminated label value in ${text}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return labels;
}

/** The family a sample belongs to: histograms and summaries expose _bucket/_sum/_count samples. */
function familyOf(families: Map<string, Family>, sample: string): Family | undefined {
  if (families.has(sample)) return families.get(sample);
  for (const suffix of ['_bucket', '_sum', '_count', '_created']) {
    if (sample.endsWith(suffix)) {
      const family = families.get(sample.slice(0, -suffix.length));
      if (family && (family.type === 'histogram' || family.type === 'summary')) return family;
    }
  }
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, f = { name, samples: [] });
    return f;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)\s?(.*)$/.exec(line);
      if (!m) continue; // a plain comment
      if (m[1] === 'HELP') family(m[2]!).help = m[3]!.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      else family(m[2]!).type = m[3]!;
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`malformed sample line: ${line}`);
    const sample: Sample = { name: m[1]!, labels: m[3] ? parseLabels(m[3]) : {}, value: parseValue(m[4]!) };
    (familyOf(families, sample.name) ?? family(sample.name)).samples.push(sample);
  }
  return families;
}

/** The value of the one sample named `name` whose labels include `labels`; undefined if none. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

/** Every sample name a scrape exposes (histogram series included). */
export function sampleNames(families: Map<string, Family>): Set<string> {
  const names = new Set<string>();
  for (const f of families.values()) for (const s of f.samples) names.add(s.name);
  return names;
}
