/**
 * How `vireo bench` talks to a server: a driver sends one prepared request and resolves when its
 * answer is complete. HTTP sends bytes serialised once per request variant over lean keep-alive
 * connections (raw-http-client.ts: one connection per outstanding request), as JSON or with the
 * binary tensor extension; gRPC goes through Vireo's own client (one HTTP/2 channel, grpc-js).
 * Both read the model's metadata, configuration and statistics (Triton's statistics extension),
 * so the same run works against Vireo and against Triton.
 */
import { GrpcInferenceClient } from '../client/grpc-client.js';
import { inputBytes, inputJson } from '../client/tensor-codec.js';
import type { InferInput } from '../client/types.js';
import type { ModelMetadata } from '../core/inference.js';
import { RawHttpConnection, serializePost } from './raw-http-client.js';

export type Protocol = 'http' | 'grpc';

/** One model version's cumulative statistics (Triton's statistics extension), numbers in nanoseconds. */
export interface StatsSnapshot {
  inferenceCount: number;
  executionCount: number;
  success: { count: number; ns: number };
  fail: { count: number; ns: number };
  queue: { count: number; ns: number };
  computeInput: { count: number; ns: number };
  computeInfer: { count: number; ns: number };
  computeOutput: { count: number; ns: number };
}

/** One lane of requests: at most one outstanding request at a time. */
export interface Lane {
  send(variant: number): Promise<void>;
  close(): void;
}

export interface Driver {
  metadata(): Promise<ModelMetadata>;
  /** The model's max_batch_size (0 when it does not batch). */
  maxBatchSize(): Promise<number>;
  statistics(): Promise<StatsSnapshot | undefined>;
  /** Prepares the request variants (each an input list) every lane sends. */
  prepare(requests: InferInput[][]): void;
  lane(): Lane;
  close(): Promise<void>;
}

export interface DriverOptions {
  protocol: Protocol;
  /** http://host:port for HTTP; host:port for gRPC. */
  url: string;
  model: string;
  version?: string;
  /** HTTP: binary tensor extension (default) or JSON. gRPC always sends raw contents. */
  binary: boolean;
}

const num = (v: unknown) => Number(v ?? 0);
const duration = (d: any) => ({ count: num(d?.count), ns: num(d?.ns) });

/** Sums the versions' statistics (a model serves its versions side by side). */
export function snapshotOf(modelStats: any[]): StatsSnapshot {
  const total: StatsSnapshot = {
    inferenceCount: 0, executionCount: 0, success: { count: 0, ns: 0 }, fail: { count: 0, ns: 0 }, queue: { count: 0, ns: 0 },
    computeInput: { count: 0, ns: 0 }, computeInfer: { count: 0, ns: 0 }, computeOutput: { count: 0, ns: 0 },
  };
  for (const s of modelStats) {
    total.inferenceCount += num(s.inference_count);
    total.executionCount += num(s.execution_count);
    const keys = [['success', 'success'], ['fail', 'fail'], ['queue', 'queue'], ['computeInput', 'compute_input'], ['computeInfer', 'compute_infer'], ['computeOutput', 'compute_output']] as const;
    for (const [ours, theirs] of keys) {
      const d = duration(s.inference_stats?.[theirs]);
      total[ours].count += d.count;
      total[ours].ns += d.ns;
    }
  }
  return total;
}

class HttpDriver implements Driver {
  readonly #base: string;
  readonly #modelPath: string;
  #requests: Buffer[] = [];
  readonly #lanes = new Set<RawHttpConnection>();

  constructor(private readonly options: DriverOptions) {
    this.#base = options.url.replace(/\/+$/, '');
    this.#modelPath = `/v2/models/${encodeURIComponent(options.model)}${options.version ? `/versions/${encodeURIComponent(options.version)}` : ''}`;
  }

  async #get(path: string): Promise<any> {
    const response = await fetch(`${this.#base}${path}`);
    const body = await response.json().catch(() => ({})) as any;
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${body?.error ?? ''}`.trim());
    return body;
  }

  metadata(): Promise<ModelMetadata> {
    return this.#get(this.#modelPath);
  }

  async maxBatchSize(): Promise<number> {
    return num((await this.#get(`${this.#modelPath}/config`)).max_batch_size);
  }

  async statistics(): Promise<StatsSnapshot | undefined> {
    try {
      return snapshotOf((await this.#get(`${this.#modelPath}/stats`)).model_stats ?? []);
    } catch {
      return undefined;
    }
  }

  prepare(requests: InferInput[][]): void {
    const target = new URL(`${this.#base}${this.#modelPath}/infer`);
    this.#requests = requests.map((inputs) => {
      if (!this.options.binary) {
        const body = Buffer.from(JSON.stringify({ inputs: inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, data: inputJson(i) })) }));
        return serializePost(target, { 'content-type': 'application/json' }, body);
      }
      const raws = inputs.map((i) => inputBytes(i));
      const header = Buffer.from(JSON.stringify({
        inputs: inputs.map((i, k) => ({ name: i.name, datatype: i.datatype, shape: i.shape, parameters: { binary_data_size: raws[k]!.byteLength } })),
        parameters: { binary_data_output: true },
      }));
      return serializePost(target, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) }, Buffer.concat([header, ...raws]));
    });
  }

  lane(): Lane {
    const connection = new RawHttpConnection(new URL(this.#base));
    this.#lanes.add(connection);
    return {
      send: async (variant) => {
        const { status, body } = await connection.send(this.#requests[variant % this.#requests.length]!);
        if (status !== 200) throw new Error(`HTTP ${status}: ${errorText(body)}`);
      },
      close: () => {
        connection.close();
        this.#lanes.delete(connection);
      },
    };
  }

  async close(): Promise<void> {
    for (const connection of this.#lanes) connection.close();
    this.#lanes.clear();
  }
}

function errorText(body: Buffer): string {
  const text = body.toString('utf8', 0, 300);
  try {
    return (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    return text;
  }
}

class GrpcDriver implements Driver {
  readonly #client: GrpcInferenceClient;
  #requests: InferInput[][] = [];

  constructor(private readonly options: DriverOptions) {
    this.#client = new GrpcInferenceClient(options.url.replace(/^grpc:\/\//, ''));
  }

  metadata(): Promise<ModelMetadata> {
    return this.#client.modelMetadata(this.options.model, this.options.version);
  }

  async maxBatchSize(): Promise<number> {
    return num((await this.#client.modelConfig(this.options.model, this.options.version)).max_batch_size);
  }

  async statistics(): Promise<StatsSnapshot | undefined> {
    try {
      return snapshotOf(await this.#client.modelStatistics(this.options.model, this.options.version ?? ''));
    } catch {
      return undefined;
    }
  }

  prepare(requests: InferInput[][]): void {
    this.#requests = requests;
  }

  lane(): Lane {
    return {
      send: async (variant) => {
        await this.#client.infer(this.options.model, this.#requests[variant % this.#requests.length]!, { version: this.options.version });
      },
      close: () => undefined,
    };
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}

export function createDriver(options: DriverOptions): Driver {
  return options.protocol === 'grpc' ? new GrpcDriver(options) : new HttpDriver(options);
}
