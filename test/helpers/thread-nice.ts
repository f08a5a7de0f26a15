/** The nice value and scheduling policy of every thread of this process (Linux /proc; fields 19 and 41 of a task's stat). */
import { readdirSync, readFileSync } from 'node:fs';

/** sched_setscheduler's policy number for SCHED_IDLE. */
export const SCHED_IDLE = 5;

export function threadSchedules(): { nice: number; policy: number }[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3, the state
      return [{ nice: Number(fields[16]), policy: Number(fields[38]) }];
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}

export function threadNiceValues(): number[] {
  return threadSchedules().map((t) => t.nice);
}
