/** bench/batch.ts as a section: vireo batch vs the onnxruntime ceiling vs HTTP, ocr over images, RSS over a 2 GB CSV. */
import { scriptSection } from '../lib/script-section.js';

export const section = scriptSection({
  name: 'batch',
  description: 'vireo batch: MLP rows (CSV, Parquet) vs raw onnxruntime and HTTP; ocr over images; RSS over a ≥ 2 GB CSV',
  script: 'batch.ts',
  args: (quick) => (quick ? ['--rows', '20000', '--images', '20', '--rss-gb', '0.2', '--http-seconds', '4'] : ['--rows', '200000', '--images', '200', '--rss-gb', '2.1', '--http-seconds', '10']),
});
