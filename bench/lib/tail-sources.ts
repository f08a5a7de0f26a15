/**
 * Where a server's latency tail comes from, for bench/batch-api-attribution.ts:
 * - per thread, from /proc/<pid>/task/<tid>/schedstat: CPU time and the time it was runnable but
 *   waited for a core (the kernel's run delay), with its nice value and scheduling policy
 *   (5: SCHED_IDLE) — who holds the cores, and who waits for them;
 * - per model, from the server's own Prometheus histograms (vireo_request / queue / compute_infer
 *   duration): the share of requests beyond a bound in each stage, so the client's tail can be set
 *   against the scheduler's span of the same requests.
 * Linux only (schedstat); the histograms need the server's `--metrics-port`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { statFields } from './process-cpu.js';

export interface ThreadSchedule { runNs: number; waitNs: number; nice: number; policy: number }

export function threadSchedules(pid: number): Map<string, ThreadSchedule> {
  const threads = new Map<string, ThreadSchedule>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [runNs, waitNs] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
      const fields = statFields(`/proc/${pid}/task/${tid}/stat`);
      threads.set(tid, { runNs: runNs!, waitNs: waitNs!, nice: Number(fields[16]), policy: Number(fields[38]) });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return threads;
}

/** The busiest threads over an interval: % of one core running, and % of the interval waiting for one. */
export function scheduleReport(before: Map<string, ThreadSchedule>, after: Map<string, ThreadSchedule>, seconds: number, mainTid: string, top = 9): string {
  const rows = [...after].map(([tid, t]) => {
    const was = before.get(tid);
    return { tid, t, run: (t.runNs - (was?.runNs ?? 0)) / 1e9 / seconds, wait: (t.waitNs - (was?.waitNs ?? 0)) / 1e9 / seconds };
  }).filter((r) => r.run > 0.01).sort((a, b) => b.run - a.run).slice(0, top);
  const label = (tid: string, t: ThreadSchedule) => (tid === mainTid ? 'main' : t.policy === 5 ? `${tid} idle` : t.nice !== 0 ? `${tid} nice ${t.nice}` : tid);
  return rows.map((r) => `${label(r.tid, r.t)}: ${(100 * r.run).toFixed(0)} % run, ${(100 * r.wait).toFixed(0)} % wait`).join('; ');
}

type Buckets = Map<string, number>;
export type StageHistograms = Partial<Record<'request' | 'queue' | 'compute_infer', Buckets>>;

/** The cumulative duration buckets of `model` from a Vireo metrics endpoint. */
export async function stageHistograms(metricsUrl: string, model: string): Promise<StageHistograms> {
  const text = await (await fetch(metricsUrl)).text();
  const stages: StageHistograms = {};
  for (const line of text.split('\n')) {
    const match = /^vireo_(request|queue|compute_infer)_duration_seconds_bucket\{(.*)\} (\S+)$/.exec(line);
    if (!match || !match[2]!.includes(`model="${model}"`)) continue;
    const le = /le="([^"]+)"/.exec(match[2]!)![1]!;
    (stages[match[1] as keyof StageHistograms] ??= new Map()).set(le, Number(match[3]));
  }
  return stages;
}

/** Per stage, the share of the interval's requests above `boundSeconds` (a bucket bound). */
export function stageTails(before: StageHistograms, after: StageHistograms, boundSeconds: number): string {
  const bound = String(boundSeconds);
  return (['request', 'queue', 'compute_infer'] as const).map((stage) => {
    const a = before[stage];
    const b = after[stage];
    if (!b?.has(bound)) return `${stage} —`;
    const total = b.get('+Inf')! - (a?.get('+Inf') ?? 0);
    const within = b.get(bound)! - (a?.get(bound) ?? 0);
    return `${stage} ${total > 0 ? ((100 * (total - within)) / total).toFixed(1) : '—'} %`;
  }).join(', ');
}
