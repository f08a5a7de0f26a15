/**
 * The streaming OCR example (examples/models/ocr_stream, a decoupled handler): an image rendered
 * with known lines goes to /generate_stream; each line must arrive as its own SSE event, in order,
 * with the rendered text, and the batch `ocr` model must read the same text.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { startTestServer, type TestServer } from '../helpers/server.js';

const repository = join(import.meta.dirname, '..', '..', 'examples', 'models');

async function render(lines: string[]): Promise<Buffer> {
  const width = 80 + Math.max(...lines.map((l) => l.length)) * 32;
  const height = 60 + lines.length * 90;
  const texts = lines.map((l, i) => `<text x="40" y="${90 + i * 90}" font-family="DejaVu Sans" font-size="48" fill="black">${l}</text>`).join('');
  return sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>${texts}</svg>`)).png().toBuffer();
}

describe('streaming OCR (examples/models/ocr_stream)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer(repository, { modelControlMode: 'explicit', loadModels: ['ocr_det', 'ocr_cls', 'ocr_rec', 'ocr', 'ocr_stream'], grpcPort: -1 });
  });

  after(async () => {
    await server?.close();
  });

  it('sends each recognised line as its own event, top to bottom', async () => {
    const lines = ['first line', 'Second Line 2', 'the third one'];
    const png = await render(lines);
    const response = await fetch(`${server.url}/v2/models/ocr_stream/generate_stream`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'doc', image: { b64: png.toString('base64') } }),
    });
    assert.equal(response.status, 200);
    const events = (await response.text()).split('\n\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')));
    assert.equal(events.length, lines.length);
    assert.deepEqual(events.map((e) => e.line.index), [0, 1, 2]);
    assert.deepEqual(events.map((e) => e.line.text), lines);
    assert.ok(events.every((e) => e.id === 'doc' && e.model_name === 'ocr_stream' && e.line.confidence > 0.8));
    const batch = await fetch(`${server.url}/v2/models/ocr/infer`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
    assert.equal(((await batch.json()) as { text: string }).text, lines.join('\n'));
  });
});
