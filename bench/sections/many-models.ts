/**
 * bench/many-models.ts as a section: 100 small models, examples/models idle and ocr_rec load/unload
 * cycles — RSS against plain onnxruntime sessions, start → ready — side by side with a baseline
 * checkout when VIREO_BASELINE names one (e.g. main extracted with `git archive main`).
 */
import { scriptSection } from '../lib/script-section.js';

const baseline = process.env.VIREO_BASELINE ? ['--baseline', process.env.VIREO_BASELINE] : [];

export const section = scriptSection({
  name: 'many-models',
  description: 'RSS and start-up with many models, examples idle, load/unload cycles (vs plain sessions)',
  script: 'many-models.ts',
  args: (quick) => (quick ? ['--models', '20', '--cycles', '5', ...baseline] : ['--models', '100', '--cycles', '20', ...baseline]),
});
