/**
 * `vireo tune` against real Vireo processes (the `simple` model copied into a temporary
 * repository): every candidate is served and measured, the frontier and the best candidate follow
 * from the measured numbers (recomputed here), and the best configuration reaches the model's
 * config file only with --write, comments kept. Windows are tiny; nothing asserts a timing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { rank, runTune, type CandidateResult } from '../../src/perf/tune-runner.js';
import { applyCandidate, candidateGrid } from '../../src/perf/tune-candidates.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'vireo.js');

describe('vireo tune', () => {
  let dir: string;
  let repository: string;
  let original: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vireo-tune-test-'));
    repository = join(dir, 'models');
    cpSync(join(root, 'examples', 'models', 'simple'), join(repository, 'simple'), { recursive: true, dereference: true });
    original = readFileSync(join(repository, 'simple', 'config.yaml'), 'utf8');
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves and measures every candidate, and ranks them by the measured numbers', async () => {
    const seen: number[] = [];
    const result = await runTune({
      repository, model: 'simple', mode: 'concurrency', load: 2, instanceCounts: [1], maxBatchSizes: [1, 4], queueDelaysUs: [0], adaptive: false,
      windowMs: 100, maxWindows: 3, data: 'random', shapes: {}, onCandidate: (done) => seen.push(done),
    });
    assert.deepEqual(seen, [1, 2]);
    assert.equal(result.results.length, 2);
    for (const r of result.results) {
      assert.equal(r.error, undefined);
      assert.ok(r.step!.requests > 0);
      assert.equal(r.config.max_batch_size, r.candidate.maxBatchSize);
    }
    // The candidate with batching really ran batches of up to 4 on the server; without, batches of 1.
    assert.equal(result.results[0]!.step!.server!.avgBatchSize, 1);
    assert.ok(result.results[1]!.step!.server!.avgBatchSize <= 4);
    // Without an SLO the best is the highest throughput, and it is on the frontier.
    const fastest = result.results.reduce((a, b) => (b.step!.inferencesPerSecond > a.step!.inferencesPerSecond ? b : a));
    assert.equal(result.best, fastest);
    assert.ok(result.best!.frontier);
    assert.equal(readFileSync(join(repository, 'simple', 'config.yaml'), 'utf8'), original, 'nothing written without --write');
  });

  it('ranks: the frontier, the SLO, and no best when nothing meets it', () => {
    const measured = (tput: number, p99: number): CandidateResult => ({
      candidate: { instances: 1, maxBatchSize: 1 }, config: {}, frontier: false, meetsSlo: false,
      step: { inferencesPerSecond: tput, p99, requests: 10, errors: 0 } as CandidateResult['step'],
    });
    const [a, b, c, d] = [measured(100, 10), measured(200, 30), measured(150, 40), measured(300, 80)];
    assert.equal(rank([a, b, c, d], 35), b);
    assert.deepEqual([a, b, c, d].map((r) => r.frontier), [true, true, false, true]);
    assert.deepEqual([a, b, c, d].map((r) => r.meetsSlo), [true, true, false, false]);
    assert.equal(rank([a, b, c, d]), d);
    assert.equal(rank([c, d], 5), undefined);
  });

  it('builds the grid and keeps the rest of the configuration', () => {
    const grid = candidateGrid({ instanceCounts: [2, 1], maxBatchSizes: [1, 8], queueDelaysUs: [0, 500], adaptive: true, adaptiveTargetMs: 20, configuredMaxBatchSize: 8 });
    assert.equal(grid.length, 2 * (1 + 2 + 1));
    assert.deepEqual(candidateGrid({ instanceCounts: [1], maxBatchSizes: [8], queueDelaysUs: [0], adaptive: true, adaptiveTargetMs: 20, configuredMaxBatchSize: 0 }), [{ instances: 1, maxBatchSize: 0, queueDelayUs: 0 }]);
    const config = parse(original);
    const adaptive = applyCandidate(config, grid.find((c) => c.adaptiveTargetMs !== undefined)!);
    assert.deepEqual(adaptive.dynamic_batching, { adaptive: { target_latency_ms: 20 } });
    assert.deepEqual(adaptive.input, config.input);
    assert.equal(adaptive.instance_group[0].count, 1);
  });

  it('from the CLI: prints the table and the best, and writes it only with --write', async () => {
    const args = [bin, 'tune', '-m', 'simple', '--model-repository', repository, '--instance-counts', '1', '--max-batch-sizes', '8', '--max-queue-delays-us', '100',
      '--no-adaptive', '--concurrency', '2', '-p', '100', '-r', '3', '--slo-p99-ms', '100000'];
    const { stdout, stderr } = await run(process.execPath, [...args, '--chart', join(dir, 'tune.svg'), '-f', join(dir, 'tune.json')]);
    assert.match(stderr, /1 candidates for "simple" at concurrency 2; about/);
    assert.match(stdout, /1 inst, batch ≤8, delay 100 µs .*best, frontier/);
    assert.match(stdout, /Not written: run with --write/);
    assert.equal(readFileSync(join(repository, 'simple', 'config.yaml'), 'utf8'), original);
    assert.match(readFileSync(join(dir, 'tune.svg'), 'utf8'), /<svg[\s\S]*SLO 100000 ms/);
    assert.equal(JSON.parse(readFileSync(join(dir, 'tune.json'), 'utf8')).results.length, 1);

    const written = await run(process.execPath, [...args, '--write']);
    assert.match(written.stdout, /Written to .*config\.yaml/);
    const text = readFileSync(join(repository, 'simple', 'config.yaml'), 'utf8');
    const config = parse(text);
    assert.equal(config.max_batch_size, 8);
    assert.equal(config.dynamic_batching.max_queue_delay_microseconds, 100);
    assert.equal(config.instance_group[0].count, 1);
    assert.deepEqual(config.input, parse(original).input);
    assert.match(text, /^# Triton's quickstart model/, 'comments are kept');
    assert.ok(existsSync(join(repository, 'simple', 'config.yaml.before-tune')));
    assert.equal(readFileSync(join(repository, 'simple', 'config.yaml.before-tune'), 'utf8'), original);
  });
});
