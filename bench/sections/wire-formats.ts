/** bench/wire-formats.ts as a section: REST JSON vs REST binary vs gRPC raw contents. */
import { scriptSection } from '../lib/script-section.js';

export const section = scriptSection({
  name: 'wire-formats',
  description: 'one 4 MB FP32 tensor over REST JSON, REST binary and gRPC',
  script: 'wire-formats.ts',
  args: (quick) => (quick ? ['--seconds', '2'] : ['--seconds', '5']),
  markdownFile: 'wire-formats.md',
});
