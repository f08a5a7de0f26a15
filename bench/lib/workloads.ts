/**
 * The three scheduler workloads of issue 4 and the model repository Vireo serves them from:
 * every model three times (no batching, Triton dynamic batching, adaptive), the files symlinked.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { mlpModel, simpleModel } from '../../tools/modelgen/models.js';
import type { RawJob } from './raw-ort.js';
import { encodeRequest, type OipInput, type Wire } from './request-body.js';

export interface Workload {
  name: string;
  kind: string;
  maxBatchSize: number;
  /** Triton dynamic batching delay for the "dynamic" variant. */
  maxQueueDelayUs: number;
  adaptiveTargetMs: number;
  /**
   * Instances of every Vireo variant (Triton's instance_group count); each gets cores ÷ instances
   * intra-op threads. For ocr_rec two single-threaded instances overlap each other and do not
   * stall as a pair when another thread takes a core, which on 2 shared cores beats one
   * two-threaded instance under load (not at concurrency 1). The MLP keeps Vireo's default, one
   * instance with every core: side by side, as fast at concurrency 32 and 1.5× at concurrency 1.
   */
  instances: number;
  rawInputs: RawJob['inputs'];
  /** The inputs of one single-item OIP request. */
  inputs: OipInput[];
  /** How clients send it: large tensors go binary, as Triton's clients send them. */
  wire: Wire;
  warmupMs: number;
  durationMs: number;
}

export const VARIANTS = ['nobatch', 'dynamic', 'adaptive'] as const;
export type Variant = (typeof VARIANTS)[number];

const pseudo = (n: number, scale = 1) => Array.from({ length: n }, (_, i) => Math.round((((i * 7919) % 1000) / 1000) * scale * 1e4) / 1e4);

export function workloads(quick: boolean): Workload[] {
  const time = (warmupMs: number, durationMs: number) => (quick ? { warmupMs: warmupMs / 2, durationMs: durationMs / 3 } : { warmupMs, durationMs });
  return [
    {
      name: 'mlp', kind: 'batching-friendly: MLP 256→4096→4096→256 (75 MB of weights)', maxBatchSize: 64,
      maxQueueDelayUs: 500, adaptiveTargetMs: 100, instances: 1,
      rawInputs: { INPUT: ['float32', [256]] },
      inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 256], data: pseudo(256) }],
      wire: 'json',
      ...time(1000, 3000),
    },
    {
      name: 'ocr_rec', kind: 'compute-bound: PaddleOCR recognition, input [1,3,48,320]', maxBatchSize: 8,
      maxQueueDelayUs: 2000, adaptiveTargetMs: 2000, instances: 2,
      rawInputs: { x: ['float32', [3, 48, 320]] },
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 320], data: pseudo(3 * 48 * 320) }],
      wire: 'binary',
      ...time(1500, 4000),
    },
    {
      name: 'simple', kind: 'overhead-bound: Triton\'s simple (INT32 add/sub of 16 values)', maxBatchSize: 64,
      maxQueueDelayUs: 100, adaptiveTargetMs: 20, instances: 1,
      rawInputs: { INPUT0: ['int32', [16]], INPUT1: ['int32', [16]] },
      inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32' as const, shape: [1, 16], data: pseudo(16, 100).map(Math.round) })),
      wire: 'json',
      ...time(750, 3000),
    },
  ];
}

export interface BenchRepository {
  root: string;
  /** Workload name → model file (shared by its variants, the naive server and raw runs). */
  modelFiles: Record<string, string>;
  /** Workload name → the request the load generator sends (body file and headers). */
  requests: Record<string, { bodyFile: string; headers: Record<string, string> }>;
  cleanup(): Promise<void>;
}

/** `configOverrides` are merged into every model's config (bench/ab.ts tries tunings with them). */
export async function buildRepository(list: Workload[], ocrRecPath: string, configOverrides: Record<string, unknown> = {}): Promise<BenchRepository> {
  const base = await mkdtemp(join(tmpdir(), 'vireo-bench-'));
  const root = join(base, 'models');
  const files = join(base, 'files');
  await mkdir(files, { recursive: true });
  const modelFiles: Record<string, string> = {};
  const requests: BenchRepository['requests'] = {};
  for (const w of list) {
    let file = join(files, `${w.name}.onnx`);
    if (w.name === 'mlp') await writeFile(file, mlpModel([256, 4096, 4096, 256]));
    else if (w.name === 'simple') await writeFile(file, simpleModel());
    else file = ocrRecPath;
    modelFiles[w.name] = file;
    const { body, headers } = encodeRequest(w.inputs, w.wire);
    requests[w.name] = { bodyFile: join(files, `${w.name}.body`), headers };
    await writeFile(requests[w.name]!.bodyFile, body);
    for (const variant of VARIANTS) {
      const dir = join(root, `${w.name}_${variant}`);
      await mkdir(join(dir, '1'), { recursive: true });
      await symlink(file, join(dir, '1', 'model.onnx'));
      const config: Record<string, unknown> = { max_batch_size: w.maxBatchSize, instance_group: [{ count: w.instances, kind: 'KIND_CPU' }] };
      if (variant === 'dynamic') config.dynamic_batching = { max_queue_delay_microseconds: w.maxQueueDelayUs };
      if (variant === 'adaptive') config.dynamic_batching = { adaptive: { target_latency_ms: w.adaptiveTargetMs } };
      await writeFile(join(dir, 'config.yaml'), stringify({ ...config, ...configOverrides }));
    }
  }
  return { root, modelFiles, requests, cleanup: () => rm(base, { recursive: true, force: true }) };
}
