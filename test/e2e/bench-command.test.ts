/**
 * `vireo bench` against a real server (the `simple` and `tabular` models): concurrency and
 * request-rate steps over HTTP (binary and JSON) and gRPC, the server-side split read from the
 * statistics extension, failing requests counted as errors, and the CLI's results and chart
 * files. Windows are tiny; nothing here asserts a timing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runBench, type BenchOptions } from '../../src/perf/bench-runner.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'vireo.js');

describe('vireo bench', () => {
  let server: TestServer;
  let dir: string;
  const options = (overrides: Partial<BenchOptions>): BenchOptions => ({
    model: 'simple', url: server.url, protocol: 'http', binary: true, mode: 'concurrency', levels: [1, 2], arrivals: 'constant',
    data: 'random', shapes: {}, batchSize: 1, windowMs: 100, stabilityPercent: 50, maxWindows: 4, maxInflight: 16, percentile: 95,
    ...overrides,
  });
  const inferenceCount = async (model: string) => (await server.get(`/v2/models/${model}/stats`)).body.model_stats[0].inference_count as number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vireo-bench-'));
    for (const model of ['simple', 'tabular']) cpSync(join(root, 'examples', 'models', model), join(dir, 'models', model), { recursive: true });
    server = await startTestServer(join(dir, 'models'));
  });

  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('measures each concurrency level over HTTP with the server-side split', async () => {
    const before = await inferenceCount('simple');
    const windows: number[] = [];
    const result = await runBench(options({ onProgress: (e) => { if (e.kind === 'window') windows.push(e.level); } }));
    assert.deepEqual(result.steps.map((s) => s.level), [1, 2]);
    assert.equal(result.wire, 'binary');
    for (const step of result.steps) {
      assert.equal(step.errors, 0, step.firstError);
      assert.ok(step.requests > 0);
      assert.ok(step.windows >= 3 && step.windows <= 4, `windows ${step.windows}`);
      assert.ok(step.p50 <= step.p90 && step.p90 <= step.p95 && step.p95 <= step.p99);
      assert.equal(step.pctl, step.p95, 'the --percentile asked for is the p95 here');
      assert.equal(step.inferencesPerSecond, step.throughput, 'one row per request');
      assert.ok(step.server, 'the statistics extension gave the split');
      // The server records a request just after answering it: the last `level` may not be counted yet.
      assert.ok(step.server.requests >= step.requests - step.level, `the server saw the measured requests (${step.server.requests} of ${step.requests})`);
      assert.ok(step.server.avgBatchSize >= 1 && step.server.avgBatchSize <= 8, `batch ${step.server.avgBatchSize}`);
      assert.ok(step.server.computeInferUs > 0 && step.server.queueUs >= 0);
    }
    assert.ok(windows.includes(1) && windows.includes(2), 'progress reported each step');
    // Every request measured was really answered by the server (independent count).
    const served = (await inferenceCount('simple')) - before;
    assert.ok(served >= result.steps.reduce((sum, s) => sum + s.requests, 0), `served ${served}`);
  });

  it('sends JSON over HTTP, batches of rows, and gRPC', async () => {
    const json = await runBench(options({ binary: false, levels: [1], batchSize: 4, maxWindows: 3 }));
    assert.equal(json.wire, 'json');
    assert.equal(json.steps[0]!.errors, 0, json.steps[0]!.firstError);
    assert.equal(json.steps[0]!.inferencesPerSecond, json.steps[0]!.throughput * 4);
    const grpc = await runBench(options({ protocol: 'grpc', url: server.grpcTarget, levels: [2], maxWindows: 3 }));
    assert.equal(grpc.steps[0]!.errors, 0, grpc.steps[0]!.firstError);
    assert.ok(grpc.steps[0]!.requests > 0);
    const split = grpc.steps[0]!.server;
    assert.ok(split, 'split from the gRPC statistics RPC');
    assert.ok(split.requests >= grpc.steps[0]!.requests - 2, `the server saw the measured requests (${split.requests} of ${grpc.steps[0]!.requests})`);
    assert.ok(split.computeInferUs > 0);
  });

  it('sends on a schedule in request-rate mode (constant and Poisson)', async () => {
    for (const arrivals of ['constant', 'poisson'] as const) {
      const result = await runBench(options({ model: 'tabular', mode: 'request-rate', levels: [40], arrivals, maxWindows: 3 }));
      const step = result.steps[0]!;
      assert.equal(step.mode, 'request-rate');
      assert.equal(step.errors, 0, step.firstError);
      assert.ok(step.requests > 0);
    }
  });

  it('counts refused requests as errors, with the server\'s reason', async () => {
    const file = join(dir, 'bad.json');
    // INPUT0 needs 16 values per row: every request is refused with 400.
    writeFileSync(file, JSON.stringify({ data: [{ INPUT0: { content: [1, 2, 3], shape: [3] }, INPUT1: { content: [1, 2, 3], shape: [3] } }] }));
    const result = await runBench(options({ data: { file }, levels: [1], maxWindows: 3 }));
    assert.equal(result.steps[0]!.requests, 0);
    assert.ok(result.steps[0]!.errors > 0);
    assert.match(result.steps[0]!.firstError ?? '', /HTTP 400/);
  });

  it('reads perf_analyzer input files and rejects impossible options before sending', async () => {
    const file = join(dir, 'data.json');
    writeFileSync(file, JSON.stringify({ data: [{ INPUT0: Array(16).fill(1), INPUT1: Array(16).fill(2) }, { INPUT0: Array(16).fill(3), INPUT1: Array(16).fill(4) }] }));
    const result = await runBench(options({ data: { file }, levels: [1], maxWindows: 3 }));
    assert.equal(result.steps[0]!.errors, 0, result.steps[0]!.firstError);
    await assert.rejects(runBench(options({ batchSize: 9, levels: [1] })), /above the model's max_batch_size 8/);
    await assert.rejects(runBench(options({ model: 'nope' })), /404 Request for unknown model: 'nope' is not found/);
  });

  it('runs from the CLI and writes results and a chart', async () => {
    const json = join(dir, 'out.json');
    const csv = join(dir, 'out.csv');
    const svg = join(dir, 'chart.svg');
    const html = join(dir, 'chart.html');
    const common = ['bench', '-m', 'simple', '-u', server.url, '-p', '100', '-r', '3', '-s', '50'];
    const { stdout, stderr } = await run(process.execPath, [bin, ...common, '--concurrency-range', '1:2:+1', '-f', json, '--chart', svg]);
    assert.match(stderr, /concurrency 1: .* infer\/s, p50 .* ms/);
    assert.match(stdout, /concurrency 2/);
    const saved = JSON.parse(readFileSync(json, 'utf8'));
    assert.deepEqual(saved.steps.map((s: { level: number }) => s.level), [1, 2]);
    assert.match(readFileSync(svg, 'utf8'), /^<svg[^>]*>[\s\S]*throughput[\s\S]*<\/svg>$/);
    await run(process.execPath, [bin, ...common, '--json', '--concurrency-range', '1', '-f', csv, '--chart', html]);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^mode,level,inferences_per_s,/);
    assert.match(readFileSync(html, 'utf8'), /<svg[\s\S]*<pre>/);
    const failed = await run(process.execPath, [bin, 'bench', '-m', 'nope', '-u', server.url]).catch((error) => error);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /vireo bench: GET \/v2\/models\/nope: 404/);
    const wrong = await run(process.execPath, [bin, 'bench', '-m', 'simple', '--concurrency-range', '4:1']).catch((error) => error);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /end 1 is below start 4/);
  });
});
