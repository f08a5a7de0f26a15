import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cgroupCpuQuota, usableCores } from '../../src/core/cpu-budget.js';

describe('the CPU budget follows a cgroup quota', () => {
  const base = mkdtempSync(join(tmpdir(), 'vireo-cgroup-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  let n = 0;
  /** A fake /sys/fs/cgroup with the given files (path → content). */
  const cgroupRoot = (files: Record<string, string>) => {
    const root = join(base, String(n++));
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), `${content}\n`);
    }
    return root;
  };

  it('cgroup v2: cpu.max quota and period', () => {
    assert.equal(cgroupCpuQuota(cgroupRoot({ 'cpu.max': '150000 100000' }), ''), 1.5);
    assert.equal(cgroupCpuQuota(cgroupRoot({ 'cpu.max': 'max 100000' }), ''), undefined);
  });

  it("cgroup v1: the cpu controller's CFS quota, -1 meaning none", () => {
    assert.equal(cgroupCpuQuota(cgroupRoot({ 'cpu/cpu.cfs_quota_us': '50000', 'cpu/cpu.cfs_period_us': '100000' }), ''), 0.5);
    assert.equal(cgroupCpuQuota(cgroupRoot({ 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000' }), ''), undefined);
  });

  it("the process's own cgroup, as /proc/self/cgroup names it, comes before the root", () => {
    const root = cgroupRoot({ 'cpu.max': 'max 100000', 'kubepods/pod1/cpu.max': '200000 100000' });
    assert.equal(cgroupCpuQuota(root, '0::/kubepods/pod1\n'), 2);
    const v1 = cgroupRoot({ 'cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '300000', 'cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000' });
    assert.equal(cgroupCpuQuota(v1, '4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n'), 3);
  });

  it('usable cores: whole CPUs within the quota, at least one, never more than the CPUs there are', () => {
    assert.equal(usableCores(cgroupRoot({ 'cpu.max': '150000 100000' }), ''), Math.min(1, availableParallelism()));
    assert.equal(usableCores(cgroupRoot({ 'cpu.max': '20000 100000' }), ''), 1, 'a fifth of a CPU still runs one thread');
    assert.equal(usableCores(cgroupRoot({ 'cpu.max': `${(availableParallelism() + 4) * 100000} 100000` }), ''), availableParallelism());
    assert.equal(usableCores(join(base, 'missing'), ''), availableParallelism(), 'no cgroup files: every CPU');
  });
});
