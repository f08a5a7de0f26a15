/**
 * Vireo's Prometheus registry, the only place prom-client is used: the per-version families the
 * scheduler reports into (through MetricsRecorder), per-protocol request counts, model readiness
 * read from the repository at scrape time, prom-client's process defaults and host utilisation.
 * docs/metrics.md lists every family with its labels and help (test/unit/metrics-docs.test.ts).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ModelIndexEntry } from '../core/inference.js';
import type { ProtocolRecorder } from '../core/observability.js';
import { BATCH_SIZE_BUCKETS, DURATION_BUCKETS } from './buckets.js';
import { registerHostMetrics } from './host-metrics.js';
import { MetricsRecorder, type VersionFamilies } from './metrics-recorder.js';

const MV = ['model', 'version'] as const;

export class VireoMetrics implements ProtocolRecorder {
  readonly registry = new Registry();
  readonly #families: VersionFamilies;
  readonly #protocol: Counter<'protocol' | 'route' | 'status'>;
  readonly #protocolChildren = new Map<string, { inc(): void }>();
  #index: () => readonly ModelIndexEntry[] = () => [];

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const duration = (name: string, help: string) =>
      new Histogram({ name, help, labelNames: MV, buckets: [...DURATION_BUCKETS], registers });
    this.#families = {
      requests: new Counter({
        name: 'vireo_inference_requests_total',
        help: 'Inference requests answered, by outcome; reason is the error code of a failure (empty on success).',
        labelNames: [...MV, 'outcome', 'reason'], registers,
      }),
      inferenceCount: new Counter({ name: 'vireo_inference_count_total', help: 'Inferences performed: items (batch rows) of successful requests.', labelNames: MV, registers }),
      execCount: new Counter({ name: 'vireo_inference_exec_count_total', help: 'Model executions: batches run by the backend.', labelNames: MV, registers }),
      requestDuration: duration('vireo_request_duration_seconds', 'Time from enqueue to response of successful requests, in seconds.'),
      queueDuration: duration('vireo_queue_duration_seconds', 'Time successful requests waited in the queue before their batch started, in seconds.'),
      computeInput: duration('vireo_compute_input_duration_seconds', 'Time spent preparing the batch inputs a successful request ran in, in seconds.'),
      computeInfer: duration('vireo_compute_infer_duration_seconds', 'Time the backend spent executing the batch a successful request ran in, in seconds.'),
      computeOutput: duration('vireo_compute_output_duration_seconds', 'Time spent splitting the batch outputs a successful request ran in, in seconds.'),
      batchSize: new Histogram({
        name: 'vireo_batch_size', help: 'Items per backend execution (the dynamic batcher\'s batch sizes).',
        labelNames: MV, buckets: [...BATCH_SIZE_BUCKETS], registers,
      }),
      pending: new Gauge({ name: 'vireo_pending_requests', help: 'Requests queued or executing.', labelNames: MV, registers }),
      busy: new Gauge({ name: 'vireo_instances_busy', help: 'Model instances currently executing a batch.', labelNames: MV, registers }),
      loadDuration: new Gauge({ name: 'vireo_model_load_duration_seconds', help: 'How long the last load of the version took, in seconds (also set when the load failed).', labelNames: MV, registers }),
    };
    const metrics = this;
    new Gauge({
      name: 'vireo_model_ready', help: '1 when the model version is READY, 0 while loading, unloading or unavailable.',
      labelNames: MV, registers,
      collect() {
        this.reset();
        for (const entry of metrics.#index()) this.labels(entry.name, entry.version ?? '').set(entry.state === 'READY' ? 1 : 0);
      },
    });
    this.#protocol = new Counter({
      name: 'vireo_protocol_requests_total',
      help: 'Requests handled by each frontend, by route (HTTP route template or gRPC method) and status (HTTP status code or gRPC status name).',
      labelNames: ['protocol', 'route', 'status'], registers,
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    registerHostMetrics(this.registry);
  }

  /** Where model readiness is read from at scrape time (the facade's repository index). */
  watch(index: () => readonly ModelIndexEntry[]): void {
    this.#index = index;
  }

  /** A recorder for one model version, with its label children bound now. */
  recorderFor(model: string, version: string): MetricsRecorder {
    return new MetricsRecorder(this.#families, model, version);
  }

  protocolRequest(protocol: string, route: string, status: string | number): void {
    const key = `${protocol}\u0000${route}\u0000${status}`;
    let child = this.#protocolChildren.get(key);
    if (!child) {
      child = this.#protocol.labels(protocol, route, String(status));
      this.#protocolChildren.set(key, child);
    }
    child.inc();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
