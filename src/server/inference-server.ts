/**
 * The facade every frontend calls, and the only one: metadata, health, inference, statistics and
 * configuration. Frontends never reach a scheduler or backend directly (Triton's in-process API
 * plays the same part between its HTTP/gRPC frontends and its core).
 */
import { VireoError } from '../core/errors.js';
import type { InferRequest, InferResponse, ModelIndexEntry, ModelMetadata, ServerMetadata } from '../core/inference.js';
import type { ProtocolRecorder, RequestTracer, TraceSettingsControl } from '../core/observability.js';
import { LogSettings, LogSettingsError, type LogSettingsJson } from '../logging/log-settings.js';
import type { Tensor } from '../core/tensor.js';
import type { Logger } from '../logging/logger.js';
import type { ModelConfig } from '../repository/model-config.js';
import type { ModelRepository } from '../repository/model-repository.js';
import type { ModelVersionStats } from '../scheduler/statistics.js';
import { validateRequest } from './request-validation.js';
import { VERSION } from './version.js';

export interface InferenceServerOptions {
  repository: ModelRepository;
  logger: Logger;
  /** Extensions the running frontends implement, for GET /v2. */
  extensions?: string[];
  strictReadiness?: boolean;
  /** Opens request traces (tracing/); absent: frontends trace nothing. */
  tracer?: RequestTracer;
  /** Counts requests per frontend route and status (metrics/); absent: nothing is counted. */
  protocolRecorder?: ProtocolRecorder;
  /** Triton's trace extension; absent: the trace settings API answers UNIMPLEMENTED. */
  traceSettings?: TraceSettingsControl;
}

export class InferenceServer {
  readonly repository: ModelRepository;
  readonly logger: Logger;
  /** Null when not configured, so a frontend can decide once, at start, to skip the work. */
  readonly tracer: RequestTracer | null;
  readonly protocolRecorder: ProtocolRecorder | null;
  readonly #extensions: string[];
  readonly #strictReadiness: boolean;
  readonly #traceSettings: TraceSettingsControl | undefined;
  readonly #logSettings: LogSettings;
  #draining = false;

  constructor(options: InferenceServerOptions) {
    this.repository = options.repository;
    this.logger = options.logger;
    this.tracer = options.tracer ?? null;
    this.protocolRecorder = options.protocolRecorder ?? null;
    this.#extensions = options.extensions ?? [];
    this.#strictReadiness = options.strictReadiness ?? true;
    this.#traceSettings = options.traceSettings;
    this.#logSettings = new LogSettings(options.logger);
  }

  /** Triton's trace extension: the global settings, or a model's (which must exist). */
  traceSettings(model?: string): Record<string, string | string[]> {
    return this.#traceControl(model).get(model);
  }

  updateTraceSettings(body: unknown, model?: string): Record<string, string | string[]> {
    const settings = this.#traceControl(model).update(body, model);
    this.logger.info({ model, settings }, 'trace settings changed');
    return settings;
  }

  #traceControl(model: string | undefined): TraceSettingsControl {
    if (!this.#traceSettings) throw new VireoError('VIREO_ERR_UNIMPLEMENTED', 'tracing is not configured on this server');
    if (model !== undefined && !this.repository.has(model)) throw new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `unknown model "${model}"`);
    return this.#traceSettings;
  }

  /** Triton's logging extension. */
  logSettings(): LogSettingsJson {
    return this.#logSettings.get();
  }

  updateLogSettings(body: unknown): LogSettingsJson {
    try {
      const settings = this.#logSettings.update(body);
      this.logger.info({ settings }, 'log settings changed');
      return settings;
    } catch (error) {
      if (error instanceof LogSettingsError) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', error.message);
      throw error;
    }
  }

  serverMetadata(): ServerMetadata {
    return { name: 'vireo', version: VERSION, extensions: [...this.#extensions] };
  }

  isLive(): boolean {
    return true;
  }

  isReady(): boolean {
    return !this.#draining && this.repository.isReady(this.#strictReadiness);
  }

  /** From now on readiness is false and new inference requests are refused (graceful drain). */
  startDraining(): void {
    this.#draining = true;
  }

  modelReady(name: string, version?: string): boolean {
    try {
      return this.repository.find(name, version).state === 'READY';
    } catch (error) {
      if (VireoError.from(error).code === 'VIREO_ERR_MODEL_NOT_READY') return false;
      throw error;
    }
  }

  modelConfig(name: string, version?: string): ModelConfig {
    return this.repository.resolve(name, version).config;
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const mv = this.repository.resolve(name, version);
    const { config } = mv;
    const batchDim = config.max_batch_size > 0 ? [-1] : [];
    const describe = (t: ModelConfig['input'][number]) => ({ name: t.name, datatype: t.data_type, shape: [...batchDim, ...t.dims] });
    return {
      name,
      versions: this.repository.versionsOf(name).filter((v) => v.state === 'READY').map((v) => v.version),
      platform: 'onnxruntime_onnx',
      inputs: config.input.map(describe),
      outputs: config.output.map(describe),
    };
  }

  async infer(request: InferRequest): Promise<InferResponse> {
    if (this.#draining) throw new VireoError('VIREO_ERR_SERVER_SHUTTING_DOWN', 'the server is shutting down and takes no new requests');
    const mv = this.repository.resolve(request.model, request.version);
    let validated: ReturnType<typeof validateRequest>;
    try {
      validated = validateRequest(request, mv.config);
    } catch (error) {
      // Counted against the version it was sent to, as the scheduler counts its own refusals.
      mv.recorder.request('failure', 0, 0, undefined, VireoError.from(error).code);
      throw error;
    }
    request.trace?.queued();
    const outputs: Tensor[] = await mv.scheduler.enqueue(validated.inputs, validated.outputs, validated.items, {
      priority: request.priority,
      timeoutUs: request.timeoutUs,
      signal: request.signal,
      trace: request.trace,
    });
    return { model: request.model, version: mv.version, id: request.id, outputs: this.#restoreShapes(outputs, mv.config) };
  }

  /** Outputs configured with a reshape go back to the dims clients were promised. */
  #restoreShapes(outputs: Tensor[], config: ModelConfig): Tensor[] {
    if (!config.output.some((o) => o.reshape)) return outputs;
    return outputs.map((t) => {
      const spec = config.output.find((o) => o.name === t.name);
      if (!spec?.reshape) return t;
      return { ...t, shape: config.max_batch_size > 0 ? [t.shape[0]!, ...spec.dims] : [...spec.dims] };
    });
  }

  statistics(name?: string, version?: string): ModelVersionStats[] {
    if (name === undefined || name === '') {
      return this.repository.index()
        .filter((e) => e.version !== undefined && e.state === 'READY')
        .map((e) => this.repository.find(e.name, e.version).statistics.snapshot());
    }
    if (version) return [this.repository.find(name, version).statistics.snapshot()];
    return this.repository.versionsOf(name).filter((v) => v.state === 'READY').map((v) => v.statistics.snapshot());
  }

  repositoryIndex(): ModelIndexEntry[] {
    return this.repository.index();
  }
}
