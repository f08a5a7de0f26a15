/**
 * Vireo's Prometheus registry, the only place prom-client is used: the per-version families the
 * scheduler reports into (through MetricsRecorder), per-protocol request counts, model readiness
 * read from the repository at scrape time, prom-client's process defaults and host utilisation.
 * docs/metrics.md lists every family with its labels and help (test/unit/metrics-docs.test.ts).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ModelIndexEntry } from '../core/inference.js';
import type { BatchJobsSnapshot, ProtocolRecorder } from '../core/observability.js';
import { BATCH_SIZE_BUCKETS, DURATION_BUCKETS } from './buckets.js';
import { CounterFamily, GaugeFamily, HistogramFamily, type ValueCell } from './cell-families.js';
import { registerHostMetrics } from './host-metrics.js';
import { MetricsRecorder, type VersionFamilies } from './metrics-recorder.js';

const MV = ['model', 'version'] as const;

/** prom-client default metrics that are gauges with a counter's `_total` suffix (dropped, see below). */
/** OpenAI's batch statuses, each a series of vireo_batch_jobs. */
const BATCH_STATUSES = ['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled'] as const;

export const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export class VireoMetrics implements ProtocolRecorder {
  readonly registry = new Registry();
  readonly #families: VersionFamilies;
  readonly #protocol: CounterFamily;
  readonly #protocolCells = new Map<string, ValueCell>();
  readonly #rejected: CounterFamily;
  readonly #rejectedCells = new Map<string, ValueCell>();
  readonly #recorders = new Map<string, MetricsRecorder>();
  #index: () => readonly ModelIndexEntry[] = () => [];
  #batches: (() => BatchJobsSnapshot) | undefined;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const r = this.registry;
    const duration = (name: string, help: string) => new HistogramFamily(name, help, MV, DURATION_BUCKETS, r);
    this.#families = {
      requests: new CounterFamily('vireo_inference_requests_total',
        'Inference requests answered, by outcome; reason is the error code of a failure (empty on success).', [...MV, 'outcome', 'reason'], r),
      inferenceCount: new CounterFamily('vireo_inference_count_total', 'Inferences performed: items (batch rows) of successful requests.', MV, r),
      execCount: new CounterFamily('vireo_inference_exec_count_total', 'Model executions: batches run by the backend.', MV, r),
      requestDuration: duration('vireo_request_duration_seconds', 'Time from enqueue to response of successful requests, in seconds.'),
      queueDuration: duration('vireo_queue_duration_seconds', 'Time successful requests waited in the queue before their batch started, in seconds.'),
      computeInput: duration('vireo_compute_input_duration_seconds', 'Time spent preparing the batch inputs a successful request ran in, in seconds.'),
      computeInfer: duration('vireo_compute_infer_duration_seconds', 'Time the backend spent executing the batch a successful request ran in, in seconds.'),
      computeOutput: duration('vireo_compute_output_duration_seconds', 'Time spent splitting the batch outputs a successful request ran in, in seconds.'),
      batchSize: new HistogramFamily('vireo_batch_size', 'Items per backend execution (the dynamic batcher\'s batch sizes).', MV, BATCH_SIZE_BUCKETS, r),
      pending: new GaugeFamily('vireo_pending_requests', 'Requests queued or executing.', MV, r),
      busy: new GaugeFamily('vireo_instances_busy', 'Model instances currently executing a batch.', MV, r),
      loadDuration: new GaugeFamily('vireo_model_load_duration_seconds', 'How long the last load of the version took, in seconds (also set when the load failed).', MV, r),
      sequencesActive: new GaugeFamily('vireo_sequences_active', 'Sequences of a stateful model holding a slot (started, not ended or released).', MV, r),
      sequenceBacklog: new GaugeFamily('vireo_sequence_backlog', 'Sequences of a stateful model waiting for a free slot.', MV, r),
      sequencesStarted: new CounterFamily('vireo_sequences_started_total', 'Sequences started (requests with sequence_start that opened a sequence).', MV, r),
      sequencesEnded: new CounterFamily('vireo_sequences_ended_total', 'Sequences finished, by reason: end (sequence_end ran) or idle (released after max_sequence_idle_microseconds).', [...MV, 'reason'], r),
      cacheHits: new CounterFamily('vireo_cache_hits_total', 'Requests answered from the response cache.', MV, r),
      cacheMisses: new CounterFamily('vireo_cache_misses_total', 'Cacheable requests not found in the response cache (then executed and stored).', MV, r),
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
    this.#protocol = new CounterFamily('vireo_protocol_requests_total',
      'Requests handled by each frontend, by route (HTTP route template or gRPC method) and status (HTTP status code or gRPC status name).',
      ['protocol', 'route', 'status'], r);
    this.#rejected = new CounterFamily('vireo_rejected_requests_total',
      'Requests refused before they reached a model (malformed, over a limit, unauthenticated, no such route), by frontend and reason.',
      ['protocol', 'reason'], r);
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client exports these three as gauges named *_total, which promtool's lint refuses (a
      // _total name is a counter's); the per-type gauges of the same names without _total stay.
      for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(name);
    }
    registerHostMetrics(this.registry);
  }

  /** Where model readiness is read from at scrape time (the facade's repository index). */
  watch(index: () => readonly ModelIndexEntry[]): void {
    this.#index = index;
  }

  /**
   * Where the batch API's job counts are read from at scrape time. Its families are registered only then:
   * a server without --batch-dir, or a `vireo batch` job (whose own families sit beside, e.g.
   * vireo_batch_rows_total), showed them at zero, as if it had a batch API.
   */
  watchBatches(snapshot: () => BatchJobsSnapshot): void {
    if (!this.#batches) this.#registerBatchFamilies();
    this.#batches = snapshot;
  }

  /** Batch-job families, read from the batch API at scrape time. */
  #registerBatchFamilies(): void {
    const metrics = this;
    const registers = [this.registry];
    new Gauge({
      name: 'vireo_batch_jobs', help: 'Batch jobs (the /v1/batches API) by status; every status has a series, zero included.', labelNames: ['status'], registers,
      collect() {
        const snapshot = metrics.#batches?.();
        if (!snapshot) return;
        // Every status, zero included: a series that vanishes reads as "no data", not as none.
        for (const status of BATCH_STATUSES) this.labels(status).set(snapshot.jobs.get(status) ?? 0);
      },
    });
    new Gauge({
      name: 'vireo_batch_rows', help: 'Requests of the batch jobs the server keeps (every status), by state: total, completed, failed; from the jobs\' saved counts, so a restart does not reset them.',
      labelNames: ['state'], registers,
      collect() {
        const snapshot = metrics.#batches?.();
        if (!snapshot) return;
        for (const state of ['total', 'completed', 'failed'] as const) this.labels(state).set(snapshot.rows[state]);
      },
    });
    new Counter({
      name: 'vireo_batch_requests_total', help: 'Requests of batch jobs answered since the server started, by outcome (completed or failed).',
      labelNames: ['outcome'], registers,
      collect() {
        const snapshot = metrics.#batches?.();
        if (!snapshot) return;
        this.reset();
        this.labels('completed').inc(snapshot.requestsCompleted);
        this.labels('failed').inc(snapshot.requestsFailed);
      },
    });
    new Gauge({
      name: 'vireo_batch_storage_bytes', help: 'Bytes the batch API keeps under --batch-dir (input, output and part files).', registers,
      collect() {
        const snapshot = metrics.#batches?.();
        if (snapshot) this.set(snapshot.storageBytes);
      },
    });
  }

  /**
   * A recorder for one model version, with its cells bound now. A version loaded again (a reload)
   * replaces the previous recorder's series: two cells with one label set would be a duplicate
   * series, which Prometheus rejects, and the previous instance may still be draining.
   */
  recorderFor(model: string, version: string): MetricsRecorder {
    const key = `${model}\u0000${version}`;
    this.#recorders.get(key)?.unloaded();
    const recorder = new MetricsRecorder(this.#families, model, version);
    this.#recorders.set(key, recorder);
    return recorder;
  }

  protocolRequest(protocol: string, route: string, status: string | number): void {
    const key = `${protocol}\u0000${route}\u0000${status}`;
    let cell = this.#protocolCells.get(key);
    if (!cell) {
      cell = this.#protocol.cell({ protocol, route, status: String(status) });
      this.#protocolCells.set(key, cell);
    }
    cell.value++;
  }

  rejectedRequest(protocol: string, reason: string): void {
    const key = `${protocol}\u0000${reason}`;
    let cell = this.#rejectedCells.get(key);
    if (!cell) {
      cell = this.#rejected.cell({ protocol, reason });
      this.#rejectedCells.set(key, cell);
    }
    cell.value++;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
