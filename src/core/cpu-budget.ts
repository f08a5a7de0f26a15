/**
 * How many cores this process may keep busy: the CPUs it may run on, bounded by a cgroup CPU quota
 * when one is set (a container's CPU limit, e.g. `vireo k8s --cpu-limit`). Node's
 * availableParallelism() sees the first but not the second, so in a pod limited to 2 CPUs on a
 * 64-core node it would size thread pools for 64 and let threads spin on cores the quota does not
 * pay for. A quota of 1.5 CPUs counts as 1: threads beyond the quota are throttled, not sped up.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The process's own cgroup directories below `root`, most specific first, then `root` itself. */
function cgroupDirs(root: string, selfCgroup: string | undefined, controller: string): string[] {
  const dirs: string[] = [];
  for (const line of (selfCgroup ?? '').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (path === undefined || path === '/') continue;
    if (controllers === '') dirs.push(join(root, path));
    else if (controllers!.split(',').includes(controller)) dirs.push(join(root, controllers!, path), join(root, controller, path));
  }
  return [...dirs, root, join(root, controller), join(root, 'cpu,cpuacct')];
}

/** CPUs the cgroup quota allows (fractional), or undefined when there is none. */
export function cgroupCpuQuota(root = '/sys/fs/cgroup', selfCgroup = read('/proc/self/cgroup')): number | undefined {
  for (const dir of cgroupDirs(root, selfCgroup, 'cpu')) {
    const v2 = read(join(dir, 'cpu.max'));
    if (v2 !== undefined) {
      const [quota, period] = v2.split(/\s+/);
      if (quota === 'max') return undefined;
      if (Number(quota) > 0 && Number(period) > 0) return Number(quota) / Number(period);
    }
    const quota = Number(read(join(dir, 'cpu.cfs_quota_us')));
    const period = Number(read(join(dir, 'cpu.cfs_period_us')));
    if (quota === -1 && period > 0) return undefined;
    if (quota > 0 && period > 0) return quota / period;
  }
  return undefined;
}

export function usableCores(root?: string, selfCgroup?: string): number {
  const quota = cgroupCpuQuota(root, selfCgroup);
  const cpus = availableParallelism();
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.floor(quota)));
}

/** This process's budget, read once (a quota is set when the container starts). */
export const USABLE_CORES = usableCores();
