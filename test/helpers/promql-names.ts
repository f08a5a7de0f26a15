/**
 * The metric names a PromQL expression reads, and which of them a scrape does not export. Names
 * are what remains after removing strings, label matchers, ranges, grouping clauses, Grafana
 * variables, function calls and keywords; a histogram's _bucket/_sum/_count series count as
 * exported only when the base family is a histogram (or summary) in the scrape.
 */
import type { Family } from './prom-text.js';

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

export function metricNames(expr: string): Set<string> {
  let s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\blabel_values\(\s*([^,)]+?)\s*,[^)]*\)/g, ' $1 ') // Grafana: label_values(metric, label)
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{[^}]*\}|\$[A-Za-z_]\w*/g, ' ');
  const names = new Set<string>();
  for (const m of s.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const before = s[m.index - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue; // part of a number or duration (1e3, 5m)
    if (s.slice(m.index + m[0].length).trimStart().startsWith('(')) continue; // a function or aggregation
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return names;
}

export function isExported(name: string, families: Map<string, Family>): boolean {
  const family = families.get(name);
  if (family && family.type !== 'histogram' && family.type !== 'summary') return true;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = families.get(name.slice(0, -suffix.length));
    if (base?.type === 'histogram' || (base?.type === 'summary' && suffix !== '_bucket')) return true;
  }
  return false;
}
