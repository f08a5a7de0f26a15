/**
 * The console (/console) and the docs page (/docs) in a real browser: playwright-core drives
 * Debian's chromium (skipped, with the reason, where it is not installed). The page must list the
 * models, run `simple` on typed numbers (the sums and differences are computed here), read an
 * uploaded invoice image with `ocr` and show "Invoice 4711" with its box, send CSV to `tabular`,
 * unload and load a model with the buttons (shown only when the repository API would accept
 * them), and do all that without a console error or a request to another origin. Screenshots go
 * to test/artifacts/console/ (gitignored).
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { startTestServer, type TestServer } from '../helpers/server.js';

const root = join(import.meta.dirname, '..', '..');
const CHROMIUM = process.env.VIREO_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(root, 'test', 'artifacts', 'console');
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Waits on a page that shares 2 cores with a server running OCR; these are bounds, not measurements. */
const WAIT = 90_000;

const skip = existsSync(CHROMIUM) ? false : `chromium is not installed at ${CHROMIUM} (.ci/run installs it with apt; VIREO_CHROMIUM names another)`;

/** A PNG with the text, 48 px DejaVu Sans black on white, as test/e2e/ocr.test.ts renders its samples. */
async function invoice(text: string): Promise<Buffer> {
  const width = 80 + text.length * 32;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="150"><rect width="100%" height="100%" fill="white"/><text x="40" y="90" font-family="DejaVu Sans" font-size="48" fill="black">${text}</text></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

interface Watched { page: Page; problems: string[] }

/** A page whose console errors, page errors and requests to other origins are collected. */
async function watchedPage(context: BrowserContext, origin: string): Promise<Watched> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol !== 'blob:' && url.protocol !== 'data:' && url.origin !== origin) problems.push(`request to another origin: ${request.url()}`);
  });
  page.setDefaultTimeout(WAIT);
  return { page, problems };
}

describe('console and docs in a real browser', { skip }, () => {
  let server: TestServer;
  let context: BrowserContext;
  let profile: string;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startTestServer(join(root, 'examples', 'models'), { grpcPort: -1, metricsPort: 0, modelControlMode: 'explicit', loadModels: ['*'] });
    profile = mkdtempSync(join(tmpdir(), 'vireo-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
    // Nothing may leave the machine: any other origin is refused (and reported by watchedPage).
    await context.route((url) => url.hostname !== '127.0.0.1', (route) => route.abort());
  });

  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await server?.close();
  });

  it('lists the models, runs simple on typed numbers, reads an invoice with ocr and sends CSV to tabular', async () => {
    const { page, problems } = await watchedPage(context, server.url);
    await page.goto(`${server.url}/console`);
    for (const model of ['simple', 'tabular', 'ocr']) {
      await page.locator(`#models tr[data-model="${model}"]`).first().waitFor();
    }
    assert.match(await page.locator('#models tr[data-model="simple"]').first().innerText(), /READY/);

    await page.locator('#models tr[data-model="simple"]').first().click();
    await page.locator('h2[data-detail="simple"]').waitFor();
    const a = Array.from({ length: 16 }, (_, i) => i * 3 - 7);
    const b = Array.from({ length: 16 }, (_, i) => 100 - i * i);
    await page.locator('[data-tab="JSON tensors"]').click();
    await page.locator('textarea[data-input="INPUT0"]').fill(a.join(', '));
    await page.locator('textarea[data-input="INPUT1"]').fill(b.join(' '));
    await page.locator('[data-action="infer-json"]').click();
    const sum = JSON.parse(await page.locator('pre[data-output="OUTPUT0"]').innerText());
    const difference = JSON.parse(await page.locator('pre[data-output="OUTPUT1"]').innerText());
    assert.deepEqual(sum, a.map((x, i) => x + b[i]!));
    assert.deepEqual(difference, a.map((x, i) => x - b[i]!));
    // Live statistics refresh from the statistics API: the inference shows up in the totals.
    await page.locator('[data-stat="inferences (total)"] b', { hasText: /^1$/ }).waitFor();
    await page.locator('[data-stat="p99 latency (since start)"], [data-stat="p99 latency (last interval)"]').first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'simple.png'), fullPage: true });

    await page.locator('#models tr[data-model="ocr"]').first().click();
    await page.locator('h2[data-detail="ocr"]').waitFor();
    await page.locator('input[data-file-input="image"]').setInputFiles({ name: 'invoice.png', mimeType: 'image/png', buffer: await invoice('Invoice 4711') });
    await page.locator('[data-action="infer-upload"]').click();
    await page.locator('.try-output .result, .try-output .error').first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'ocr-invoice.png'), fullPage: true });
    assert.equal(await page.locator('.try-output .error').count(), 0, await page.locator('.try-output').innerText());
    await page.locator('li[data-line]', { hasText: 'Invoice 4711' }).waitFor();
    assert.match(await page.locator('body').innerText(), /Invoice 4711/);
    await page.locator('.image-result svg polygon').first().waitFor({ state: 'attached' });
    assert.equal(await page.locator('.image-result svg polygon').count(), 1, 'one box drawn over the image');
    await page.screenshot({ path: join(ARTIFACTS, 'ocr-invoice.png'), fullPage: true });

    await page.locator('#models tr[data-model="tabular"]').first().click();
    await page.locator('h2[data-detail="tabular"]').waitFor();
    await page.locator('[data-tab="CSV (dataframe)"]').click();
    await page.locator('textarea[data-csv]').fill('sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n');
    await page.locator('[data-action="infer-csv"]').click();
    const answer = JSON.parse(await page.locator('pre[data-answer]').innerText());
    assert.equal(answer.OUTPUT.length, 2, JSON.stringify(answer));
    assert.deepEqual(problems, []);
  });

  it('unloads and loads a model with the buttons when model control is allowed', async () => {
    const { page, problems } = await watchedPage(context, server.url);
    await page.goto(`${server.url}/console#tabular`);
    await page.locator('h2[data-detail="tabular"]').waitFor();
    await page.locator('[data-action="unload"]').click();
    await page.locator('#models tr[data-model="tabular"] .state-UNAVAILABLE').waitFor();
    assert.equal((await server.get('/v2/models/tabular/ready')).status, 503);
    await page.locator('[data-action="load"]').click();
    await page.locator('#models tr[data-model="tabular"] .state-READY').waitFor();
    assert.equal((await server.get('/v2/models/tabular/ready')).status, 200);
    await page.screenshot({ path: join(ARTIFACTS, 'control.png'), fullPage: true });
    assert.deepEqual(problems, []);
  });

  it('shows no load or unload button where the repository API would refuse them', async () => {
    const repository = mkdtempSync(join(tmpdir(), 'vireo-console-'));
    cpSync(join(root, 'examples', 'models', 'simple'), join(repository, 'simple'), { recursive: true });
    const plain = await startTestServer(repository, { grpcPort: -1 });
    try {
      const { page, problems } = await watchedPage(context, plain.url);
      await page.goto(`${plain.url}/console`);
      await page.locator('h2[data-detail="simple"]').waitFor();
      await page.locator('#control-note', { hasText: 'Model control is off' }).waitFor();
      assert.equal(await page.locator('[data-action="load"], [data-action="unload"]').count(), 0);
      // Without metrics the page says why it has no percentiles instead of failing.
      await page.getByText('Latency percentiles need the metrics registry').waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await plain.close();
      rmSync(repository, { recursive: true, force: true });
    }
  });

  it('renders the API docs at /docs from the server alone', async () => {
    const { page, problems } = await watchedPage(context, server.url);
    await page.goto(`${server.url}/docs`);
    await page.locator('.opblock-summary-path', { hasText: '/v2/models/{model}/infer' }).first().waitFor();
    assert.ok(await page.locator('.opblock').count() >= 20);
    await page.screenshot({ path: join(ARTIFACTS, 'docs.png') });
    assert.deepEqual(problems, []);
  });
});
