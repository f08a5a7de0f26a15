/** bench/ocr.ts as a section: the OCR pipeline's requests/s and where the time goes. */
import { scriptSection } from '../lib/script-section.js';

export const section = scriptSection({
  name: 'ocr',
  description: 'OCR uploads at concurrency 1, 8, 32 with per-stage time shares',
  script: 'ocr.ts',
  args: (quick) => ['--requests-per-level', quick ? '8' : '48'],
});
