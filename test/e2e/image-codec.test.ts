/**
 * The image codec and the classification extension over real HTTP. Identity models echo the
 * tensor the codec built, so every value is checked against pixels the test chose itself.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { identityModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** 4×4 RGB pixels, each different: pixel p has (10p, 100 + 5p, 250 − 7p). */
const PIXELS = Uint8Array.from({ length: 48 }, (_, i) => {
  const p = Math.floor(i / 3);
  return [10 * p, 100 + 5 * p, 250 - 7 * p][i % 3]!;
});

const png = (raw: Uint8Array, width: number, height: number) => sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
const b64 = (bytes: Buffer) => ({ b64: bytes.toString('base64') });
const close = (actual: number[], expected: number[]) => {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-5, `element ${i}: ${v} vs ${expected[i]}`));
};

describe('image codec and classification', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      nchw: {
        config: {
          max_batch_size: 4,
          input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [3, 4, 4], image: { mean: [0.5, 0.25, 0], std: [0.5, 0.25, 2] } }],
        },
        versions: { 1: identityModel('FLOAT', ['batch', 3, 4, 4]) },
      },
      nhwc_bgr: {
        config: {
          max_batch_size: 4,
          input: [{ name: 'INPUT', data_type: 'TYPE_UINT8', dims: [4, 4, 3], image: { layout: 'NHWC', channel_order: 'BGR', resize: 'pad', max_pixels: 1000 } }],
        },
        versions: { 1: identityModel('UINT8', ['batch', 4, 4, 3]) },
      },
      fit: {
        config: { max_batch_size: 1, input: [{ name: 'INPUT', data_type: 'TYPE_UINT8', dims: [3, 4, 4], image: { resize: 'fit' } }] },
        versions: { 1: identityModel('UINT8', ['batch', 3, 4, 4]) },
      },
      classes: {
        config: { max_batch_size: 4, output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [5], label_filename: 'labels.txt' }] },
        versions: { 1: identityModel('FLOAT', ['batch', 5]) },
      },
    });
    await writeFile(join(repo.root, 'classes', 'labels.txt'), 'ant\ncat\nbird\ndog\neel\n');
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
  });

  after(async () => {
    await server.close();
    await cleanup();
  });

  it('decodes PNG bytes into a normalised NCHW tensor, one per image of a batch', async () => {
    const image = await png(PIXELS, 4, 4);
    const answer = await server.post('/v2/models/nchw/infer', { inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [2, 1], data: [b64(image), b64(image)] }] });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const out = answer.body.outputs[0];
    assert.deepEqual(out.shape, [2, 3, 4, 4]);
    const mean = [0.5, 0.25, 0];
    const std = [0.5, 0.25, 2];
    const one: number[] = [];
    for (let c = 0; c < 3; c++) for (let p = 0; p < 16; p++) one.push((PIXELS[p * 3 + c]! / 255 - mean[c]!) / std[c]!);
    close(out.data, [...one, ...one]);
  });

  it('takes the image as a binary-extension BYTES tensor', async () => {
    const image = await png(PIXELS, 4, 4);
    const element = Buffer.alloc(4 + image.byteLength);
    element.writeUInt32LE(image.byteLength, 0);
    image.copy(element, 4);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: element.byteLength } }] }));
    const response = await fetch(`${server.url}/v2/models/nchw/infer`, {
      method: 'POST',
      body: Buffer.concat([header, element]),
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.byteLength) },
    });
    const body = await response.json() as { outputs: { shape: number[]; data: number[] }[] };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(body.outputs[0]!.shape, [1, 3, 4, 4]);
    // Red plane of pixel p: (10p / 255 − 0.5) / 0.5.
    close(body.outputs[0]!.data.slice(0, 16), Array.from({ length: 16 }, (_, p) => ((10 * p) / 255 - 0.5) / 0.5));
  });

  it('letterboxes (pad) into NHWC in BGR order, from a multipart upload', async () => {
    // 8×4 all one colour → 4×2 in the middle of a 4×4 black square.
    const colour = [200, 30, 90];
    const raw = Uint8Array.from({ length: 8 * 4 * 3 }, (_, i) => colour[i % 3]!);
    const form = new FormData();
    form.append('INPUT', new Blob([await png(raw, 8, 4)], { type: 'image/png' }), 'wide.png');
    const response = await fetch(`${server.url}/v2/models/nhwc_bgr/infer`, { method: 'POST', body: form });
    assert.equal(response.status, 200);
    const body = await response.json() as { OUTPUT: number[] };
    const bgr = [colour[2]!, colour[1]!, colour[0]!];
    const expected: number[] = [];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) expected.push(...(y === 0 || y === 3 ? [0, 0, 0] : bgr));
    assert.deepEqual((body.OUTPUT as unknown[]).flat(3), expected);
  });

  it('covers and centre-crops (fit) keeping the aspect ratio', async () => {
    // 8×4: left half red, right half blue → 4×4 centre crop: columns 0–1 red, 2–3 blue.
    const raw = Uint8Array.from({ length: 8 * 4 * 3 }, (_, i) => {
      const x = Math.floor(i / 3) % 8;
      return (x < 4 ? [255, 0, 0] : [0, 0, 255])[i % 3]!;
    });
    const answer = await server.post('/v2/models/fit/infer', { inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1], data: [b64(await png(raw, 8, 4))] }] });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const [r, , b] = [0, 1, 2].map((c) => answer.body.outputs[0].data.slice(c * 16, (c + 1) * 16));
    assert.deepEqual(r, Array.from({ length: 16 }, (_, p) => (p % 4 < 2 ? 255 : 0)));
    assert.deepEqual(b, Array.from({ length: 16 }, (_, p) => (p % 4 < 2 ? 0 : 255)));
  });

  it('refuses truncated images, too many pixels and non-images with 400 and a clear message', async () => {
    const jpeg = await sharp(PIXELS, { raw: { width: 4, height: 4, channels: 3 } }).resize(64, 64).jpeg().toBuffer();
    const cut = await server.post('/v2/models/nchw/infer', { inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1], data: [b64(jpeg.subarray(0, jpeg.byteLength - 200))] }] });
    assert.equal(cut.status, 400);
    assert.match(cut.body.error, /input "INPUT" image 0 cannot be decoded/);
    const big = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const tooBig = await server.post('/v2/models/nhwc_bgr/infer', { inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1], data: [b64(big)] }] });
    assert.equal(tooBig.status, 400);
    assert.match(tooBig.body.error, /40×30 = 1200 pixels, more than the limit of 1000/);
    const text = await server.post('/v2/models/nchw/infer', { inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1], data: ['hello'] }] });
    assert.equal(text.status, 400);
    assert.match(text.body.error, /is not a JPEG, PNG, WebP, GIF, TIFF or AVIF image/);
  });

  it('refuses SVG (and other non-raster bytes) before sharp parses them, even when sharp could render them', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="red"/></svg>';
    assert.equal((await sharp(Buffer.from(svg)).metadata()).format, 'svg', 'sharp itself would accept this SVG');
    for (const bytes of [Buffer.from(svg), Buffer.from(`<?xml version="1.0"?>${svg}`), Buffer.from('%PDF-1.4\n')]) {
      const res = await server.post('/v2/models/nchw/infer', { inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1], data: [b64(bytes)] }] });
      assert.equal(res.status, 400);
      assert.match(res.body.error, /is not a JPEG, PNG, WebP, GIF, TIFF or AVIF image.*SVG/);
    }
    // Every promised raster format still passes the sniffing.
    for (const format of ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const) {
      const bytes = await sharp(PIXELS, { raw: { width: 4, height: 4, channels: 3 } }).resize(16, 16).toFormat(format).toBuffer();
      const res = await server.post('/v2/models/nchw/infer', { inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1], data: [b64(bytes)] }] });
      assert.equal(res.status, 200, `${format}: ${JSON.stringify(res.body)}`);
    }
  });

  it('returns the top-k classes as "value:index:label" (classification extension)', async () => {
    const answer = await server.post('/v2/models/classes/infer', {
      inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [2, 5], data: [0.1, 0.7, 0.2, 0.9, 0.05, 3, 1, 2, 5, 4] }],
      outputs: [{ name: 'OUTPUT', parameters: { classification: 3 } }],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.outputs[0], {
      name: 'OUTPUT',
      datatype: 'BYTES',
      shape: [2, 3],
      data: ['0.900000:3:dog', '0.700000:1:cat', '0.200000:2:bird', '5.000000:3:dog', '4.000000:4:eel', '3.000000:0:ant'],
    });
    const bad = await server.post('/v2/models/classes/infer', {
      inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 5], data: [1, 2, 3, 4, 5] }],
      outputs: [{ name: 'OUTPUT', parameters: { classification: 0 } }],
    });
    assert.equal(bad.status, 400);
    // k is bounded by the output's 5 classes: 6 and 1e9 are refused before the model runs.
    for (const k of [6, 1e9, 2.5, '3']) {
      const res = await server.post('/v2/models/classes/infer', {
        inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 5], data: [1, 2, 3, 4, 5] }],
        outputs: [{ name: 'OUTPUT', parameters: { classification: k } }],
      });
      assert.equal(res.status, 400, String(k));
      assert.match(res.body.error, /"classification" must be/);
    }
    const meta = await server.get('/v2');
    assert.ok(meta.body.extensions.includes('classification'));
  });
});
