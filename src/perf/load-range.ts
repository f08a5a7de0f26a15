/**
 * perf_analyzer's load ranges: `start:end:step`, where the step adds (`+100` or `100`) or
 * multiplies (`x2`); `start` alone is one level. Levels are bounded so a typo cannot start an
 * endless sweep.
 */
const MAX_LEVELS = 64;

export class LoadRangeError extends Error {}

export function parseLoadRange(text: string, what: string): number[] {
  const parts = text.split(':');
  const number = (s: string | undefined, name: string) => {
    const n = Number(s);
    if (s === undefined || s.trim() === '' || !Number.isFinite(n) || n <= 0) throw new LoadRangeError(`${what}: ${name} must be a positive number, got "${s ?? ''}" in "${text}"`);
    return n;
  };
  if (parts.length > 3) throw new LoadRangeError(`${what}: expected start[:end[:step]], got "${text}"`);
  const start = number(parts[0], 'start');
  const end = parts[1] === undefined ? start : number(parts[1], 'end');
  if (end < start) throw new LoadRangeError(`${what}: end ${end} is below start ${start}`);
  const stepText = parts[2] ?? (end === start ? '+1' : 'x2');
  const multiply = /^x/i.test(stepText);
  const step = number(stepText.replace(/^[x+]/i, ''), 'step');
  if (multiply && step <= 1) throw new LoadRangeError(`${what}: a multiplying step must be above 1, got "${stepText}"`);
  const levels: number[] = [];
  for (let level = start; level <= end * (1 + 1e-9); level = multiply ? level * step : level + step) {
    levels.push(+level.toPrecision(12));
    if (levels.length > MAX_LEVELS) throw new LoadRangeError(`${what}: "${text}" has more than ${MAX_LEVELS} levels`);
  }
  return levels;
}
