/**
 * bench/malloc-trim.ts as a section: idle RSS of examples/models and of a 75 MB MLP with and without
 * giving the C heap's free memory back after loads (src/core/native-heap.ts), interleaved pairs.
 */
import { scriptSection } from '../lib/script-section.js';

export const section = scriptSection({
  name: 'malloc-trim',
  description: 'idle RSS with and without malloc_trim after model loads (examples/models, a 75 MB MLP)',
  script: 'malloc-trim.ts',
  args: (quick) => ['--pairs', quick ? '1' : '3'],
});
