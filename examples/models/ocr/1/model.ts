/**
 * OCR as a service, as a Vireo handler model: image bytes in, text out. Every step that is a
 * neural network is another model of this repository, called through the server (BLS), so each
 * has its own scheduler, batching and statistics: ocr_det (DB text detection), ocr_cls (0°/180°
 * orientation) and ocr_rec (CTC recognition, batched over all the lines of an image).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HandlerContext, HandlerRequest, HandlerResponse } from '../../../../src/backends/handler/handler-api.js';
import { ctcDecode, loadDictionary } from './ctc-decode.js';
import { dbBoxes, groupLines, type TextBox } from './db-boxes.js';
import { badInput, crop, decodeImage, resizeRgb, rotate180, rotate90, toChw, type RgbImage } from './image-ops.js';

// PaddleOCR's normalisation, listed in the BGR order its OpenCV-decoded images have.
const DET_MEAN = [0.485, 0.456, 0.406];
const DET_STD = [0.229, 0.224, 0.225];
const HALF = [0.5, 0.5, 0.5];
const LINE_HEIGHT = 48;
const CLS_WIDTH = 192;
const REC_MIN_WIDTH = 320;
const REC_MAX_WIDTH = 48 * 40;
/** Recognitions below this mean probability are dropped, as PaddleOCR's drop_score. */
const DROP_SCORE = 0.5;

let ctx: HandlerContext;
let dictionary: string[];
let settings: {
  maxPixels: number; limitSide: number; threshold: number; boxThreshold: number;
  unclipRatio: number; clsThreshold: number; recBatch: number;
};

export async function initialize(context: HandlerContext): Promise<void> {
  ctx = context;
  const p = (context.config.parameters ?? {}) as Record<string, string | number>;
  const num = (key: string, fallback: number) => (p[key] === undefined ? fallback : Number(p[key]));
  settings = {
    maxPixels: num('max_pixels', 40_000_000),
    limitSide: num('det_limit_side_len', 960),
    threshold: num('det_threshold', 0.3),
    boxThreshold: num('det_box_threshold', 0.6),
    unclipRatio: num('det_unclip_ratio', 1.5),
    clsThreshold: num('cls_threshold', 0.9),
    recBatch: num('rec_batch_size', 16),
  };
  const dictionaryPath = join(context.modelDir, '..', 'ocr_rec', 'ppocr_keys_v1.txt');
  dictionary = loadDictionary(await readFile(dictionaryPath, 'utf8'));
  context.logger.info(`ocr ready: ${dictionary.length} characters in the recogniser's dictionary`);
}

export async function execute(requests: HandlerRequest[]): Promise<HandlerResponse[]> {
  return Promise.all(requests.map(async (request) => {
    const bytes = request.inputs.image!.data as Uint8Array[];
    if (bytes.length !== 1) throw badInput(`input "image" must hold exactly one image per request, got ${bytes.length}`);
    const result = await recognise(bytes[0]!);
    return {
      outputs: {
        text: { data: [result.text] },
        lines: { data: [JSON.stringify(result.lines)] },
        timings: { data: [JSON.stringify(result.timings)] },
      },
    };
  }));
}

interface Line { text: string; confidence: number; box: [number, number][] }

async function recognise(bytes: Uint8Array): Promise<{ text: string; lines: Line[]; timings: Record<string, number> }> {
  const t0 = performance.now();
  const image = await decodeImage(bytes, settings.maxPixels);
  const t1 = performance.now();
  const boxes = await detect(image);
  const t2 = performance.now();
  const crops = await orient(boxes.map((b) => {
    const piece = crop(image, b.x0, b.y0, b.x1, b.y1);
    return piece.height >= 1.5 * piece.width ? rotate90(piece) : piece;
  }));
  const t3 = performance.now();
  const reads = await read(crops);
  const t4 = performance.now();
  const kept = boxes.map((box, i) => ({ box, ...reads[i]! })).filter((r) => r.confidence >= DROP_SCORE && r.text.trim() !== '');
  const lines = groupLines(kept.map((r) => r.box)).map((group) => {
    const members = group.map((box) => kept.find((r) => r.box === box)!);
    return {
      text: members.map((m) => m.text.trim()).join(' '),
      confidence: members.reduce((s, m) => s + m.confidence, 0) / members.length,
      box: outline(group),
    };
  });
  const ms = (a: number, b: number) => Math.round((b - a) * 100) / 100;
  return {
    text: lines.map((l) => l.text).join('\n'),
    lines,
    timings: { decode: ms(t0, t1), detect: ms(t1, t2), classify: ms(t2, t3), recognize: ms(t3, t4), total: ms(t0, performance.now()) },
  };
}

/**
 * The lines of an image one by one, top to bottom, each as soon as it is read (the streaming
 * variant, ocr_stream, yields them to its client): one detection, then per line its orientation
 * and recognition. Boxes read with too little confidence are dropped, as in recognise().
 */
export async function* readLines(bytes: Uint8Array): AsyncGenerator<Line & { index: number }> {
  const image = await decodeImage(bytes, settings.maxPixels);
  const boxes = await detect(image);
  let index = 0;
  for (const group of groupLines(boxes)) {
    const crops = await orient(group.map((b) => {
      const piece = crop(image, b.x0, b.y0, b.x1, b.y1);
      return piece.height >= 1.5 * piece.width ? rotate90(piece) : piece;
    }));
    const reads = await read(crops);
    const kept = group.map((box, i) => ({ box, ...reads[i]! })).filter((r) => r.confidence >= DROP_SCORE && r.text.trim() !== '');
    if (kept.length === 0) continue;
    yield {
      index: index++,
      text: kept.map((m) => m.text.trim()).join(' '),
      confidence: kept.reduce((sum, m) => sum + m.confidence, 0) / kept.length,
      box: outline(kept.map((m) => m.box)),
    };
  }
}

function outline(group: readonly TextBox[]): [number, number][] {
  const x0 = Math.min(...group.map((b) => b.x0));
  const y0 = Math.min(...group.map((b) => b.y0));
  const x1 = Math.max(...group.map((b) => b.x1));
  const y1 = Math.max(...group.map((b) => b.y1));
  return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
}

/** PaddleOCR's DetResizeForTest (limit_type max): longer side ≤ limit, both sides multiples of 32. */
async function detect(image: RgbImage): Promise<TextBox[]> {
  const ratio = Math.min(1, settings.limitSide / Math.max(image.width, image.height));
  const width = Math.max(32, Math.round((image.width * ratio) / 32) * 32);
  const height = Math.max(32, Math.round((image.height * ratio) / 32) * 32);
  const resized = await resizeRgb(image, width, height);
  const x = new Float32Array(3 * width * height);
  toChw(resized, x, 0, width, DET_MEAN, DET_STD);
  const out = await ctx.infer('ocr_det', { x: { datatype: 'FP32', shape: [1, 3, height, width], data: x } });
  const prob = out['sigmoid_0.tmp_0']!.data as Float32Array;
  return dbBoxes(prob, width, height, image.width / width, image.height / height, image, {
    threshold: settings.threshold,
    boxThreshold: settings.boxThreshold,
    unclipRatio: settings.unclipRatio,
    minSize: 3,
    maxCandidates: 1000,
  });
}

/** Resized to the line height, keeping the aspect ratio, at most `maxWidth` wide. */
async function toLine(image: RgbImage, maxWidth: number): Promise<RgbImage> {
  const width = Math.max(1, Math.min(maxWidth, Math.ceil((LINE_HEIGHT * image.width) / image.height)));
  return resizeRgb(image, width, LINE_HEIGHT);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Turns lines the classifier finds upside down (ocr_cls, 48×192 inputs) the right way up. */
async function orient(crops: RgbImage[]): Promise<RgbImage[]> {
  const result = [...crops];
  let base = 0;
  for (const chunk of chunks(crops, settings.recBatch)) {
    const plane = 3 * LINE_HEIGHT * CLS_WIDTH;
    const x = new Float32Array(chunk.length * plane);
    const lines = await Promise.all(chunk.map((c) => toLine(c, CLS_WIDTH)));
    lines.forEach((line, i) => toChw(line, x, i * plane, CLS_WIDTH, HALF, HALF));
    const out = await ctx.infer('ocr_cls', { x: { datatype: 'FP32', shape: [chunk.length, 3, LINE_HEIGHT, CLS_WIDTH], data: x } });
    const probs = out['softmax_0.tmp_0']!.data as Float32Array;
    chunk.forEach((c, i) => {
      if (probs[2 * i + 1]! > probs[2 * i]! && probs[2 * i + 1]! > settings.clsThreshold) result[base + i] = rotate180(c);
    });
    base += chunk.length;
  }
  return result;
}

/** Recognises every crop: sorted by aspect ratio so each ocr_rec batch pads little. */
async function read(crops: RgbImage[]): Promise<{ text: string; confidence: number }[]> {
  const order = crops.map((c, i) => ({ i, ratio: c.width / c.height })).sort((a, b) => a.ratio - b.ratio);
  const results: { text: string; confidence: number }[] = new Array(crops.length);
  for (const chunk of chunks(order, settings.recBatch)) {
    const widest = Math.ceil(LINE_HEIGHT * chunk.at(-1)!.ratio);
    // Padded to a multiple of 64 so lines of similar length from other requests batch together.
    const width = Math.min(REC_MAX_WIDTH, Math.max(REC_MIN_WIDTH, Math.ceil(widest / 64) * 64));
    const plane = 3 * LINE_HEIGHT * width;
    const x = new Float32Array(chunk.length * plane);
    const lines = await Promise.all(chunk.map((c) => toLine(crops[c.i]!, width)));
    lines.forEach((line, k) => toChw(line, x, k * plane, width, HALF, HALF));
    const out = await ctx.infer('ocr_rec', { x: { datatype: 'FP32', shape: [chunk.length, 3, LINE_HEIGHT, width], data: x } });
    const probs = out['softmax_11.tmp_0']!;
    const [, steps, classes] = probs.shape as number[];
    chunk.forEach((c, k) => {
      results[c.i] = ctcDecode(probs.data as Float32Array, k * steps! * classes!, steps!, classes!, dictionary);
    });
  }
  return results;
}
