/**
 * The background worker's claim on the CPU (Linux). Set by the thread itself before it opens any
 * onnxruntime session: the threads onnxruntime starts inherit both the nice value and the policy.
 *
 * - nice 19 (setpriority of tid 0 is the calling thread): the smallest CFS weight.
 * - SCHED_IDLE on top: the kernel (EEVDF since 6.6) lets a running nice-19 thread keep the core
 *   until its slice ends even when a nice-0 thread wakes, so a real-time run waited up to a slice
 *   behind a job's run; a SCHED_IDLE thread is preempted at once by any normal thread that wakes.
 *   Node has no binding for sched_setscheduler, so util-linux's `chrt` sets it on this thread's id
 *   (lowering a policy needs no privilege). Without chrt the thread keeps nice 19.
 */
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

export interface ThreadPriority {
  nice: boolean;
  idlePolicy: boolean;
}

/** This thread's kernel task id (`/proc/thread-self` links to `<pid>/task/<tid>`). */
function threadId(): string | undefined {
  try {
    return readlinkSync('/proc/thread-self').split('/').pop();
  } catch {
    return undefined;
  }
}

export function lowerThisThread(nice: number, idlePolicy: boolean): ThreadPriority {
  const applied: ThreadPriority = { nice: false, idlePolicy: false };
  try {
    setPriority(nice);
    applied.nice = true;
  } catch { /* runs at the process's priority */ }
  const tid = idlePolicy ? threadId() : undefined;
  if (tid) {
    try {
      execFileSync('chrt', ['--idle', '--pid', '0', tid], { stdio: 'ignore', timeout: 5000 });
      applied.idlePolicy = true;
    } catch { /* no chrt here: nice alone */ }
  }
  return applied;
}
