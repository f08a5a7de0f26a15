/** bench/batch-api.ts as a section: real-time latency beside batch jobs, and the jobs' progress. */
import { scriptSection } from '../lib/script-section.js';

export const section = scriptSection({
  name: 'batch-api',
  description: 'real-time p50/p99 at a fixed rate with no batch job, a job on the same model and on another; job rows/s against leftover capacity',
  script: 'batch-api.ts',
  args: (quick) => (quick ? ['--seconds', '2', '--rounds', '1'] : ['--seconds', '4', '--rounds', '5']),
});
