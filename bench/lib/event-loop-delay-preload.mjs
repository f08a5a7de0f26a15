// Preloaded into a server under measurement (`node --import`): its main thread's event-loop delay,
// printed to stderr and reset on every SIGUSR2 (bench/batch-api-attribution.ts reads it).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  process.on('SIGUSR2', () => {
    const ms = (ns) => (ns / 1e6).toFixed(2);
    process.stderr.write(`event-loop-delay p50 ${ms(histogram.percentile(50))} p99 ${ms(histogram.percentile(99))} max ${ms(histogram.max)}\n`);
    histogram.reset();
  });
}
