/** bench/metrics-overhead.ts as a section: throughput with metrics on vs off. */
import { scriptSection } from '../lib/script-section.js';

export const section = scriptSection({
  name: 'metrics-overhead',
  description: 'requests/s with Prometheus metrics on vs off, alternating rounds',
  script: 'metrics-overhead.ts',
  args: (quick) => (quick ? ['--seconds', '1', '--rounds', '3'] : ['--seconds', '2', '--rounds', '7']),
});
