/**
 * The OCR showcase end to end over the real PaddleOCR models in examples/models: images rendered
 * here with known text (sharp's SVG text, black on white) are uploaded as a multipart form, as a
 * bare body and as an OIP BYTES tensor, and the recognised text must equal the rendered text.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { startTestServer, type TestServer } from '../helpers/server.js';

const repository = join(import.meta.dirname, '..', '..', 'examples', 'models');

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** A PNG with one line of text per entry, 48 px DejaVu Sans, black on white. */
async function render(lines: string[], rotate180 = false): Promise<Buffer> {
  const width = 80 + Math.max(...lines.map((l) => l.length)) * 32;
  const height = 60 + lines.length * 90;
  const texts = lines.map((l, i) => `<text x="40" y="${90 + i * 90}" font-family="DejaVu Sans" font-size="48" fill="black">${escape(l)}</text>`).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>${texts}</svg>`;
  let image = sharp(Buffer.from(svg));
  if (rotate180) image = sharp(await image.png().toBuffer()).rotate(180);
  return image.png().toBuffer();
}

async function upload(server: TestServer, body: FormData | Uint8Array, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/v2/models/ocr/infer`, { method: 'POST', body, headers });
  return { status: response.status, body: await response.json() as any };
}

describe('OCR as a service (examples/models/ocr)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer(repository);
  });

  after(async () => {
    await server.close();
  });

  for (const sample of ['Hello World', 'Vireo serves models', 'Invoice 4711', 'quick brown fox']) {
    it(`reads "${sample}" from a multipart upload`, async () => {
      const form = new FormData();
      form.append('file', new Blob([await render([sample])], { type: 'image/png' }), 'sample.png');
      const answer = await upload(server, form);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.text, sample);
      assert.equal(answer.body.lines.length, 1);
      const line = answer.body.lines[0];
      assert.equal(line.text, sample);
      assert.ok(line.confidence > 0.5 && line.confidence <= 1, `confidence ${line.confidence}`);
      // The box lies around the text, which starts at x = 40 on a 48 px line ending at y = 90.
      const [[x0, y0], , [x1, y1]] = line.box;
      assert.ok(x0 < 60 && x1 > 40 + sample.length * 15 && y0 < 60 && y1 > 85 && y1 < 120, JSON.stringify(line.box));
    });
  }

  it('reads several lines top to bottom from a bare image body', async () => {
    const answer = await upload(server, await render(['first line', 'Second Line 2']), { 'content-type': 'image/png' });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.text, 'first line\nSecond Line 2');
    assert.deepEqual(answer.body.lines.map((l: { text: string }) => l.text), ['first line', 'Second Line 2']);
    assert.ok(answer.body.lines[0].box[0][1] < answer.body.lines[1].box[0][1]);
  });

  it('turns an upside-down line the right way up with the orientation classifier', async () => {
    const answer = await upload(server, await render(['Upside Down'], true), { 'content-type': 'image/png' });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.text, 'Upside Down');
  });

  it('answers an OIP request with a BYTES tensor in the OIP format, and the OCR models did the work', async () => {
    const before = (await server.get('/v2/models/ocr_rec/stats')).body.model_stats[0].inference_count;
    const answer = await server.post('/v2/models/ocr/infer', {
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [1, 1], data: [{ b64: (await render(['JSON path'])).toString('base64') }] }],
      outputs: [{ name: 'text' }],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.outputs, [{ name: 'text', datatype: 'BYTES', shape: [1, 1], data: ['JSON path'] }]);
    const afterCount = (await server.get('/v2/models/ocr_rec/stats')).body.model_stats[0].inference_count;
    assert.equal(afterCount, before + 1);
  });

  it('reads an image with no text as empty', async () => {
    const blank = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#ffffff' } }).jpeg().toBuffer();
    const answer = await upload(server, blank, { 'content-type': 'image/jpeg' });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.text, '');
    assert.deepEqual(answer.body.lines, []);
  });

  it('refuses truncated images, images over the pixel limit and non-images with 400', async () => {
    const png = await render(['cut short']);
    const truncated = await upload(server, png.subarray(0, Math.floor(png.byteLength / 2)), { 'content-type': 'image/png' });
    assert.equal(truncated.status, 400);
    assert.match(truncated.body.error, /cannot be decoded/);
    const huge = await sharp({ create: { width: 8000, height: 6000, channels: 3, background: '#000000' } }).png({ compressionLevel: 9 }).toBuffer();
    const tooBig = await upload(server, huge, { 'content-type': 'image/png' });
    assert.equal(tooBig.status, 400);
    assert.match(tooBig.body.error, /48000000 pixels, more than the limit of 40000000/);
    const text = await upload(server, Buffer.from('definitely not an image'), { 'content-type': 'application/octet-stream' });
    assert.equal(text.status, 400);
    assert.match(text.body.error, /cannot be decoded/);
  });

  it('refuses an upload to a model without a BYTES input and a form field that is not an input', async () => {
    const png = await render(['x']);
    const simple = await fetch(`${server.url}/v2/models/simple/infer`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
    assert.equal(simple.status, 400);
    const form = new FormData();
    form.append('file', new Blob([png], { type: 'image/png' }), 'a.png');
    form.append('other', new Blob([png], { type: 'image/png' }), 'b.png');
    const answer = await upload(server, form);
    assert.equal(answer.status, 400);
    assert.match(answer.body.error, /form field "file" is not a BYTES input of model "ocr"/);
  });

  it('still reads a JSON request sent as application/octet-stream as JSON, not as an upload', async () => {
    const request = { inputs: [0, 1].map((i) => ({ name: `INPUT${i}`, datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, k) => k + i) })) };
    const response = await fetch(`${server.url}/v2/models/simple/infer`, { method: 'POST', body: JSON.stringify(request), headers: { 'content-type': 'application/octet-stream' } });
    const body = await response.json() as { outputs: { name: string; data: number[] }[] };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(body.outputs.find((o) => o.name === 'OUTPUT0')!.data, Array.from({ length: 16 }, (_, k) => 2 * k + 1));
  });
});
