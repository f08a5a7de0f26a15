/**
 * One model of the repository and its versions. Operations on the model run one at a time through
 * `exclusive` (a promise chain), so a load and an unload of the same model never interleave.
 * `swap` is the atomic switch of a reload: it runs synchronously, so no request can observe a
 * state between the old and the new versions.
 */
import type { VireoError } from '../core/errors.js';
import type { ModelState } from '../core/inference.js';
import type { Logger } from '../logging/logger.js';
import type { ModelInstance } from '../backends/backend.js';
import type { SchedulerRecorder } from '../scheduler/recorder.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { DecoupledRunner } from '../scheduler/decoupled-runner.js';
import type { ModelCodecs } from '../codecs/model-codecs.js';
import { StatisticsRecorder, fanOut } from '../scheduler/statistics.js';
import { trimNativeHeapSoon } from '../core/native-heap.js';
import type { ModelConfig, ParsedModelConfig } from './model-config.js';
import type { ModelFingerprint } from './model-fingerprint.js';

/** A scheduler recorder that may also hear about its version's load and unload. */
export interface VersionRecorder extends SchedulerRecorder {
  /** The load finished, READY or not, after `seconds`. */
  loaded?(seconds: number): void;
  /** The version was unloaded and will not report again. */
  unloaded?(): void;
}

export interface ModelVersion {
  readonly model: string;
  readonly version: string;
  state: ModelState;
  reason?: string;
  /** Why the last load of this version failed. */
  error?: VireoError;
  config?: ModelConfig;
  scheduler?: ModelRunner;
  instances?: ModelInstance[];
  /** Image decoding, classification labels: decided when the version loads. */
  codecs?: ModelCodecs;
  statistics: StatisticsRecorder;
  /** Statistics plus the extra recorder: what the scheduler reports to, and the facade for early failures. */
  recorder: SchedulerRecorder;
  extra?: VersionRecorder;
  /** Accounted memory (memory budget mode): RSS growth over the load, at least the model file per instance. */
  memoryBytes?: number;
}

/** What serves a version's requests: its scheduler, or an ensemble's runner. */
export type ModelRunner = Pick<Scheduler, 'enqueue' | 'close' | 'pending'> & Partial<Pick<Scheduler, 'destroy' | 'flush'>> & Partial<Pick<DecoupledRunner, 'stream'>>;

let useTick = 0;

export function newVersion(model: string, version: string, recorderFor?: (model: string, version: string) => VersionRecorder | undefined): ModelVersion {
  const statistics = new StatisticsRecorder(model, version);
  const extra = recorderFor?.(model, version);
  return { model, version, state: 'LOADING', statistics, recorder: extra ? fanOut([statistics, extra]) : statistics, extra };
}

/** Drains a version (everything it admitted finishes), then ends its workers. */
export async function retireVersion(mv: ModelVersion, log: Logger): Promise<void> {
  if (!mv.scheduler && !mv.instances) return;
  const t0 = performance.now();
  mv.state = 'UNLOADING';
  await mv.scheduler?.close();
  await Promise.all((mv.instances ?? []).map((i) => i.close()));
  mv.scheduler = undefined;
  mv.instances = undefined;
  mv.extra?.unloaded?.();
  // What the sessions freed goes back to the system now, not only when the allocator next needs it.
  trimNativeHeapSoon();
  log.info({ version: mv.version, unloadMs: Math.round(performance.now() - t0) }, 'model unloaded');
}

export class ModelEntry {
  readonly name: string;
  readonly versions = new Map<string, ModelVersion>();
  state: ModelState = 'LOADING';
  /** Set when the model as a whole could not load (bad config, no versions) or was unloaded. */
  reason?: string;
  /** True after a load, false after an unload or eviction: whether the model should be served. */
  wanted = false;
  /** The files the served versions were loaded from (poll and explicit modes). */
  fingerprint?: ModelFingerprint;
  /** A configuration given through the load API, used instead of the file until the next one. */
  override?: ParsedModelConfig;
  lastUse = ++useTick;
  /** Memory measured per version at its last load; the estimate for its next one. */
  readonly measured = new Map<string, number>();
  #operations = 0;
  #chain: Promise<void> = Promise.resolve();

  constructor(name: string) {
    this.name = name;
  }

  /** Operations queued or running. */
  get operations(): number {
    return this.#operations;
  }

  exclusive<T>(operation: () => Promise<T>): Promise<T> {
    this.#operations++;
    // The count drops before the caller resumes, so it sees its own operation as finished.
    const result = this.#chain.then(operation).finally(() => { this.#operations--; });
    this.#chain = result.then(() => undefined, () => undefined);
    return result;
  }

  /** Resolves once every queued operation finished. */
  idle(): Promise<void> {
    return this.#chain;
  }

  touch(): void {
    this.lastUse = ++useTick;
  }

  sortedVersions(): ModelVersion[] {
    return [...this.versions.values()].sort((a, b) => Number(a.version) - Number(b.version));
  }

  /** The highest READY version: where a request without a version goes. */
  servingVersion(): ModelVersion | undefined {
    return this.sortedVersions().filter((v) => v.state === 'READY').at(-1);
  }

  /** Requests queued or executing on any version. */
  pending(): number {
    let total = 0;
    for (const v of this.versions.values()) total += v.scheduler?.pending ?? 0;
    return total;
  }

  /** Accounted memory of the versions that hold instances. */
  memoryBytes(): number {
    let total = 0;
    for (const v of this.versions.values()) if (v.instances) total += v.memoryBytes ?? 0;
    return total;
  }

  fail(reason: string): void {
    this.state = 'UNAVAILABLE';
    this.reason = reason;
  }

  /**
   * Puts freshly loaded versions in place and returns the versions to retire. A fresh version that
   * failed does not displace a READY one of the same number; versions no longer selected leave
   * only when a selected version is READY afterwards, so a failed reload keeps the model serving.
   */
  swap(fresh: readonly ModelVersion[], selected: readonly string[]): ModelVersion[] {
    const retiring: ModelVersion[] = [];
    for (const mv of fresh) {
      const old = this.versions.get(mv.version);
      if (old === mv) continue;
      if (mv.state === 'READY') {
        this.versions.set(mv.version, mv);
        if (old) retiring.push(old);
      } else if (old?.state !== 'READY') {
        this.versions.set(mv.version, mv);
      }
    }
    const anySelectedReady = selected.some((v) => this.versions.get(v)?.state === 'READY');
    for (const [version, mv] of this.versions) {
      if (selected.includes(version)) continue;
      if (anySelectedReady || mv.state !== 'READY') {
        this.versions.delete(version);
        retiring.push(mv);
      }
    }
    return retiring;
  }

  settleState(): void {
    if (this.servingVersion()) {
      this.state = 'READY';
      this.reason = undefined;
    } else {
      this.fail(this.sortedVersions().map((v) => v.reason).find(Boolean) ?? 'no version loaded');
    }
  }

  /** Every version drains and ends; the versions stay listed as UNAVAILABLE with `reason`. */
  async unloadAll(reason: string, log: Logger): Promise<void> {
    this.wanted = false;
    this.state = 'UNLOADING';
    const versions = [...this.versions.values()];
    await Promise.all(versions.map((mv) => retireVersion(mv, log)));
    for (const mv of versions) {
      mv.state = 'UNAVAILABLE';
      mv.reason = reason;
      mv.config = undefined;
    }
    this.fail(reason);
  }
}
