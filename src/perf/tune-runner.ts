/**
 * `vireo tune` (Model Analyzer's job): serves the model with each candidate configuration in turn
 * (candidate-server.ts), measures it with `vireo bench` at one load (a concurrency or a request
 * rate), and ranks the results: the throughput/latency frontier (no other candidate has both more
 * throughput and a lower p99) and the best candidate, the highest throughput whose p99 meets the
 * SLO.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { runBench, type BenchOptions } from './bench-runner.js';
import type { BenchStep } from './bench-report.js';
import { startCandidate } from './candidate-server.js';
import { applyCandidate, candidateGrid, type Candidate, type GridOptions } from './tune-candidates.js';

const CONFIG_FILES = ['config.yaml', 'config.yml', 'config.json'];

export interface TuneOptions extends Omit<GridOptions, 'configuredMaxBatchSize' | 'adaptiveTargetMs'> {
  repository: string;
  model: string;
  sloP99Ms?: number;
  mode: BenchOptions['mode'];
  load: number;
  windowMs: number;
  maxWindows: number;
  data: BenchOptions['data'];
  shapes: BenchOptions['shapes'];
  onStart?: (candidates: Candidate[], estimateMs: { low: number; high: number }) => void;
  onCandidate?: (done: number, total: number, result: CandidateResult) => void;
}

export interface CandidateResult {
  candidate: Candidate;
  config: Record<string, unknown>;
  /** Absent when the candidate could not be served (then `error` says why). */
  step?: BenchStep;
  error?: string;
  frontier: boolean;
  meetsSlo: boolean;
}

export interface TuneResult {
  model: string;
  configFile: string | undefined;
  sloP99Ms?: number;
  load: string;
  results: CandidateResult[];
  best?: CandidateResult;
}

/** Time to start a server and load a small model on a busy machine; only for the estimate. */
const START_MS = { low: 2000, high: 8000 };

export function readModelConfig(repository: string, model: string): { file: string | undefined; config: Record<string, any> } {
  for (const name of CONFIG_FILES) {
    const file = join(resolve(repository), model, name);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    return { file, config: (parse(text) ?? {}) as Record<string, any> };
  }
  return { file: undefined, config: {} };
}

/** Marks the frontier and the SLO, and picks the best candidate. */
export function rank(results: CandidateResult[], sloP99Ms?: number): CandidateResult | undefined {
  const measured = results.filter((r) => r.step && r.step.requests > 0 && r.step.errors === 0);
  for (const r of results) {
    r.frontier = false;
    r.meetsSlo = false;
  }
  for (const r of measured) {
    const s = r.step!;
    r.frontier = !measured.some((o) => o !== r && o.step!.inferencesPerSecond >= s.inferencesPerSecond && o.step!.p99 <= s.p99
      && (o.step!.inferencesPerSecond > s.inferencesPerSecond || o.step!.p99 < s.p99));
    r.meetsSlo = sloP99Ms === undefined || s.p99 <= sloP99Ms;
  }
  return measured.filter((r) => r.meetsSlo).sort((a, b) => b.step!.inferencesPerSecond - a.step!.inferencesPerSecond)[0];
}

export async function runTune(options: TuneOptions): Promise<TuneResult> {
  const { file, config } = readModelConfig(options.repository, options.model);
  const candidates = candidateGrid({ ...options, configuredMaxBatchSize: Number(config.max_batch_size ?? 1), adaptiveTargetMs: options.sloP99Ms ?? 50 });
  const perCandidate = (windows: number) => windows * options.windowMs;
  options.onStart?.(candidates, {
    low: candidates.length * (START_MS.low + perCandidate(3)),
    high: candidates.length * (START_MS.high + perCandidate(options.maxWindows)),
  });
  const results: CandidateResult[] = [];
  for (const candidate of candidates) {
    const candidateConfig = applyCandidate(config, candidate);
    const result: CandidateResult = { candidate, config: candidateConfig, frontier: false, meetsSlo: false };
    try {
      const server = await startCandidate(options.repository, options.model, candidateConfig);
      try {
        if (!server.ready.ok) {
          result.error = `did not load: ${server.ready.reason}`;
        } else {
          const run = await runBench({
            model: options.model, url: server.url, protocol: 'http', binary: true, mode: options.mode, levels: [options.load], arrivals: 'constant',
            data: options.data, shapes: options.shapes, batchSize: 1, windowMs: options.windowMs, stabilityPercent: 10, maxWindows: options.maxWindows,
            maxInflight: 1024, percentile: 99,
          });
          result.step = run.steps[0];
          if (result.step && result.step.errors > 0) result.error = result.step.firstError;
        }
      } finally {
        await server.close();
      }
    } catch (error) {
      result.error = (error as Error).message;
    }
    results.push(result);
    rank(results, options.sloP99Ms);
    options.onCandidate?.(results.length, candidates.length, result);
  }
  const best = rank(results, options.sloP99Ms);
  return {
    model: options.model, configFile: file, sloP99Ms: options.sloP99Ms,
    load: options.mode === 'concurrency' ? `concurrency ${options.load}` : `${options.load} requests/s`, results, best,
  };
}
