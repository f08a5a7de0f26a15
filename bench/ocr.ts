/**
 * OCR throughput benchmark (standalone: `npx tsx bench/ocr.ts [--requests-per-level N]`): serves
 * examples/models, uploads one rendered two-line image at concurrency 1, 8 and 32, and reports
 * requests/s and latency per level, plus where the time goes: decoding, detection, orientation
 * and recognition as the handler measures them (its `timings` output, summed over requests),
 * and the ONNX compute time of each OCR model from the server's statistics.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { startServer } from '../src/app/start-server.js';
import { silentLogger } from '../src/logging/logger.js';
import { prepareExamples } from '../tools/prepare-examples.js';

const LEVELS = [1, 8, 32];
const argIndex = process.argv.indexOf('--requests-per-level');
const perLevel = argIndex > 0 ? Number(process.argv[argIndex + 1]) : 48;
const root = join(import.meta.dirname, '..');

async function sampleImage(): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="260"><rect width="100%" height="100%" fill="white"/>
    <text x="40" y="100" font-family="DejaVu Sans" font-size="48" fill="black">Invoice 4711 due 2026-12-01</text>
    <text x="40" y="200" font-family="DejaVu Sans" font-size="48" fill="black">Total amount 129.90 EUR</text></svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toBuffer();
}

interface Timings { decode: number; detect: number; classify: number; recognize: number; total: number }

async function main(): Promise<void> {
  await prepareExamples();
  const running = await startServer({
    modelRepository: join(root, 'examples', 'models'), httpPort: 0, httpAddress: '127.0.0.1', logger: silentLogger(),
    autoComplete: true, defaultMaxBatchSize: 4, strictReadiness: false, bodyLimit: 64 * 1024 * 1024,
  });
  await running.loaded;
  const url = `${running.httpUrl}/v2/models/ocr/infer`;
  const image = await sampleImage();
  const once = async (): Promise<Timings> => {
    const response = await fetch(url, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });
    const body = await response.json() as { text?: string; timings?: Timings; error?: string };
    if (response.status !== 200 || !body.timings) throw new Error(`OCR failed (${response.status}): ${body.error}`);
    return body.timings;
  };
  const first = await once();
  for (let i = 0; i < 3; i++) await once();
  const computeMs = async () => {
    const stats = (await (await fetch(`${running.httpUrl}/v2/models/stats`)).json()) as { model_stats: { name: string; inference_stats: { compute_infer: { ns: number } } }[] };
    return Object.fromEntries(stats.model_stats.filter((s) => s.name.startsWith('ocr_')).map((s) => [s.name, s.inference_stats.compute_infer.ns / 1e6]));
  };

  const results = [];
  for (const concurrency of LEVELS) {
    const total = Math.max(perLevel, concurrency * 2);
    const before = await computeMs();
    const latencies: number[] = [];
    const sums: Timings = { decode: 0, detect: 0, classify: 0, recognize: 0, total: 0 };
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const t0 = performance.now();
        const t = await once();
        latencies.push(performance.now() - t0);
        for (const key of Object.keys(sums) as (keyof Timings)[]) sums[key] += t[key];
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const after = await computeMs();
    latencies.sort((a, b) => a - b);
    const share = (ms: number) => Math.round((1000 * ms) / sums.total) / 10;
    const model = (name: string) => Math.round(((after[name] ?? 0) - (before[name] ?? 0)) / total);
    results.push({
      concurrency,
      requests: total,
      requestsPerSecond: Math.round((total / seconds) * 100) / 100,
      p50Ms: Math.round(latencies[Math.floor(latencies.length * 0.5)]!),
      p95Ms: Math.round(latencies[Math.floor(latencies.length * 0.95)]!),
      sharePercent: { decode: share(sums.decode), detect: share(sums.detect), classify: share(sums.classify), recognize: share(sums.recognize) },
      onnxComputeMsPerRequest: { ocr_det: model('ocr_det'), ocr_cls: model('ocr_cls'), ocr_rec: model('ocr_rec') },
    });
  }
  await running.close();

  console.log(`OCR benchmark: one ${image.byteLength}-byte JPEG (900×260, two lines), ${perLevel} requests per level; first answer: ${JSON.stringify(first)}`);
  console.log('\n| concurrency | requests/s | p50 ms | p95 ms | decode % | detect % | classify % | recognize % | det / cls / rec ONNX ms per request |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const s = r.sharePercent;
    const m = r.onnxComputeMsPerRequest;
    console.log(`| ${r.concurrency} | ${r.requestsPerSecond} | ${r.p50Ms} | ${r.p95Ms} | ${s.decode} | ${s.detect} | ${s.classify} | ${s.recognize} | ${m.ocr_det} / ${m.ocr_cls} / ${m.ocr_rec} |`);
  }
  await mkdir(join(root, 'bench', 'results'), { recursive: true });
  await writeFile(join(root, 'bench', 'results', 'ocr.json'), `${JSON.stringify({ date: new Date().toISOString(), perLevel, results }, null, 2)}\n`);
}

await main();
