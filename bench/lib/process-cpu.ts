/**
 * CPU time of a server process, split into its main thread (the event loop: HTTP, JSON, scheduling)
 * and everything else (instance workers, onnxruntime's pools, V8 helpers), read from /proc so the
 * benchmark can show where a 2-core machine's CPU went. Linux only; elsewhere it reports nothing.
 */
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second (USER_HZ): 100 on every mainstream Linux build. */
const TICKS_PER_SECOND = 100;

export interface CpuSample { mainSeconds: number; totalSeconds: number }

/**
 * The fields of a /proc `stat` line after the parenthesised command name (which may hold spaces): the
 * line's 3rd field is [0], so utime (14th) is [11], nice (19th) [16], policy (41st) [38].
 */
export function statFields(statPath: string): string[] {
  const stat = readFileSync(statPath, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function ticks(statPath: string): number {
  const fields = statFields(statPath);
  return Number(fields[11]) + Number(fields[12]);
}

export function sampleCpu(pid: number | undefined): CpuSample | undefined {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    return { mainSeconds: ticks(`/proc/${pid}/task/${pid}/stat`) / TICKS_PER_SECOND, totalSeconds: ticks(`/proc/${pid}/stat`) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** Percent of one core used between two samples taken `seconds` apart. */
export function cpuPercent(before: CpuSample | undefined, after: CpuSample | undefined, seconds: number): { main: number; other: number } | undefined {
  if (!before || !after) return undefined;
  const main = after.mainSeconds - before.mainSeconds;
  const total = after.totalSeconds - before.totalSeconds;
  return { main: (main / seconds) * 100, other: ((total - main) / seconds) * 100 };
}
