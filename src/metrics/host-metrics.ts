/**
 * Host utilisation read at scrape time: CPU busy fraction over all cores since the previous
 * scrape (os.cpus() tick deltas) and memory in use. Nothing runs between scrapes.
 */
import { cpus, freemem, totalmem } from 'node:os';
import { Gauge, type Registry } from 'prom-client';

interface CpuSample { busy: number; total: number }

function sampleCpu(): CpuSample {
  let busy = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    const all = t.user + t.nice + t.sys + t.irq + t.idle;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

export function registerHostMetrics(registry: Registry): void {
  let previous = sampleCpu();
  new Gauge({
    name: 'vireo_host_cpu_utilization_ratio',
    help: 'Fraction of host CPU time (all cores) spent busy since the previous scrape, 0 to 1.',
    registers: [registry],
    collect() {
      const now = sampleCpu();
      const total = now.total - previous.total;
      this.set(total > 0 ? Math.min(1, Math.max(0, (now.busy - previous.busy) / total)) : 0);
      previous = now;
    },
  });
  new Gauge({
    name: 'vireo_host_memory_utilization_ratio',
    help: 'Fraction of host memory in use (1 - free/total), 0 to 1.',
    registers: [registry],
    collect() {
      this.set(1 - freemem() / totalmem());
    },
  });
  new Gauge({
    name: 'vireo_host_memory_total_bytes',
    help: 'Total host memory in bytes.',
    registers: [registry],
    collect() {
      this.set(totalmem());
    },
  });
}
