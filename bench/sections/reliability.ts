/** bench/reliability.ts as a section: the BYTES bound, 10× overload and drain under load. */
import { scriptSection } from '../lib/script-section.js';

export const section = scriptSection({
  name: 'reliability',
  description: 'a 31 MB BYTES request, 10x overload against the default queue bound, SIGTERM under keep-alive load',
  script: 'reliability.ts',
  args: (quick) => (quick ? ['--burst-factor', '4', '--load-ms', '1000'] : ['--burst-factor', '10', '--load-ms', '2000']),
});
