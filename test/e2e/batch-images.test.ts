/**
 * `vireo batch` over a folder of images into the OCR handler (examples/models/ocr, which calls
 * ocr_det, ocr_cls and ocr_rec): the text per file must be the text rendered into it (sharp's SVG
 * text), the relative path is the id, a corrupt file fails only its own row; and while the job runs
 * its Prometheus endpoint serves the job's families beside the server's.
 */
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import sharp from 'sharp';
import { runBatch } from '../../src/app/run-batch.js';
import { silentLogger } from '../../src/logging/logger.js';

const repository = join(import.meta.dirname, '..', '..', 'examples', 'models');
const TEXTS: Record<string, string> = { 'a/first.png': 'Batch pipelines', 'a/second.png': 'Second Line 2', 'b/third.png': 'Nightly OCR run' };

async function render(text: string): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${80 + text.length * 32}" height="150"><rect width="100%" height="100%" fill="white"/><text x="40" y="90" font-family="DejaVu Sans" font-size="48" fill="black">${text}</text></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-images-'));
  for (const [name, text] of Object.entries(TEXTS)) {
    await mkdir(join(dir, 'scans', name, '..'), { recursive: true });
    await writeFile(join(dir, 'scans', name), await render(text));
  }
  await writeFile(join(dir, 'scans', 'a', 'broken.png'), 'definitely not an image');
});
after(() => rm(dir, { recursive: true, force: true }));

it('reads the text of every image of a folder; a corrupt file fails alone; metrics while it runs', async () => {
  const output = join(dir, 'out');
  let scrape: Promise<string> | undefined;
  let metricsUrl = '';
  const summary = await runBatch({
    modelRepository: repository, logger: silentLogger(), model: 'ocr', loadModels: ['ocr_det', 'ocr_cls', 'ocr_rec'],
    inputs: [join(dir, 'scans')], output, partRows: 2, metricsPort: 0,
    onMetricsUrl: (url) => { metricsUrl = url; },
    // Scraped when the first part is committed: the job (and its endpoint) is still running.
    observer: { part: () => { scrape ??= fetch(metricsUrl).then((r) => r.text()); } },
  });
  assert.equal(summary.rows, 4);
  assert.equal(summary.errors, 1);
  const lines: { custom_id: string; response: { body: { outputs: { name: string; data: string[] }[] } } }[] = [];
  for (const file of (await readdir(join(output, 'parts'))).filter((f) => f.endsWith('.jsonl') && !f.endsWith('.errors.jsonl')).sort()) {
    for (const line of (await readFile(join(output, 'parts', file), 'utf8')).trim().split('\n')) if (line) lines.push(JSON.parse(line));
  }
  assert.deepEqual(lines.map((l) => l.custom_id), ['a/first.png', 'a/second.png', 'b/third.png']);
  for (const line of lines) assert.equal(line.response.body.outputs.find((o) => o.name === 'text')!.data[0], TEXTS[line.custom_id]);
  const errors = (await readdir(join(output, 'parts'))).filter((f) => f.endsWith('.errors.jsonl'));
  const failed = JSON.parse((await readFile(join(output, 'parts', errors[0]!), 'utf8')).trim());
  assert.equal(failed.custom_id, 'a/broken.png');
  assert.equal(failed.error.code, 'VIREO_ERR_INPUT_DATA');

  const text = await scrape!;
  assert.match(text, /vireo_batch_rows_total\{model="ocr",outcome="success"\} \d/);
  assert.match(text, /vireo_batch_stage_seconds_total\{model="ocr",stage="infer"\} [\d.]+/);
  assert.match(text, /vireo_inference_exec_count_total\{model="ocr_rec",version="1"\} \d/);
});
