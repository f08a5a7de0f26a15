/**
 * The facade every frontend calls, and the only one: metadata, health, inference, statistics and
 * configuration. Frontends never reach a scheduler or backend directly (Triton's in-process API
 * plays the same part between its HTTP/gRPC frontends and its core). Its parts live beside it:
 * request-admission.ts (the drain), request-preparation.ts (before a request is queued, after it is
 * answered), shared-memory-tensors.ts, runtime-settings.ts (trace and log settings), load-request.ts.
 */
import type { Table } from '../codecs/dataframe-codec.js';
import { checkBytesRequest } from '../core/bytes-limits.js';
import { checkRequestCounts } from '../core/request-limits.js';
import { VireoError } from '../core/errors.js';
import type { InferRequest, InferResponse, ModelIndexEntry, ModelMetadata, ServerMetadata } from '../core/inference.js';
import type { ProtocolRecorder, RequestTracer, TraceSettingsControl } from '../core/observability.js';
import type { LogSettingsJson } from '../logging/log-settings.js';
import type { Tensor } from '../core/tensor.js';
import type { Logger } from '../logging/logger.js';
import type { ModelConfig } from '../repository/model-config.js';
import { toTritonForm } from '../repository/triton-config.js';
import { checkVersionString, type ModelRepository } from '../repository/model-repository.js';
import { checkModelName } from '../repository/model-upload.js';
import { AccessPolicy, type Caller } from './access-policy.js';
import { checkControlAccess } from './control-access.js';
import { SystemSharedMemory, type SharedMemoryRef } from './system-shared-memory.js';
import { CudaSharedMemory } from './cuda-shared-memory.js';
import type { DataType } from '../core/datatypes.js';
import type { TensorData } from '../core/tensor.js';
import type { ModelVersionStats } from '../scheduler/statistics.js';
import { readLoadRequest, type LoadModelOptions } from './load-request.js';
import { RequestAdmission } from './request-admission.js';
import { RuntimeSettings } from './runtime-settings.js';
import { buildResponse, prepareRequest } from './request-preparation.js';
import { readSharedMemoryInput, writeSharedMemoryOutputs } from './shared-memory-tensors.js';
import { VERSION } from './version.js';
import { clip } from '../core/bounded-text.js';

export type { LoadModelOptions } from './load-request.js';

export interface InferenceServerOptions {
  repository: ModelRepository;
  logger: Logger;
  /** Extensions the running frontends implement, for GET /v2. */
  extensions?: string[];
  strictReadiness?: boolean;
  /** Serve the model control API to non-loopback clients too (`--allow-remote-control`). */
  allowRemoteControl?: boolean;
  /** Who may call what (tokens, API keys); default: loopback-only control, open inference. */
  access?: AccessPolicy;
  /** Opens request traces (tracing/); absent: frontends trace nothing. */
  tracer?: RequestTracer;
  /** Counts requests per frontend route and status (metrics/); absent: nothing is counted. */
  protocolRecorder?: ProtocolRecorder;
  /** Triton's trace extension; absent: the trace settings API answers UNIMPLEMENTED. */
  traceSettings?: TraceSettingsControl;
  /** Triton's system shared-memory extension (`--allow-shared-memory`); off by default. */
  allowSharedMemory?: boolean;
}

export interface UnloadModelOptions {
  /** Also unload the ensembles that use this model (directly or through other ensembles). */
  unloadDependents?: boolean;
}

export class InferenceServer {
  readonly repository: ModelRepository;
  readonly logger: Logger;
  /** Null when not configured, so a frontend can decide once, at start, to skip the work. */
  readonly tracer: RequestTracer | null;
  readonly protocolRecorder: ProtocolRecorder | null;
  readonly #extensions: string[];
  readonly #strictReadiness: boolean;
  /** The one guard every frontend applies to control and inference calls. */
  readonly access: AccessPolicy;
  /** Trace and log settings, read and changed at run time. */
  readonly #settings: RuntimeSettings;
  /** Null unless --allow-shared-memory: then every shared-memory call is refused. */
  readonly #sharedMemory: SystemSharedMemory | null;
  /** Counts admitted requests; refuses new ones once draining. */
  readonly #admission = new RequestAdmission();

  constructor(options: InferenceServerOptions) {
    this.repository = options.repository;
    this.logger = options.logger;
    this.tracer = options.tracer ?? null;
    this.protocolRecorder = options.protocolRecorder ?? null;
    this.#extensions = options.extensions ?? [];
    this.#strictReadiness = options.strictReadiness ?? true;
    this.access = options.access ?? new AccessPolicy({ controlMode: options.repository.controlMode, allowRemoteControl: options.allowRemoteControl });
    this.#settings = new RuntimeSettings({ logger: options.logger, hasModel: (name) => options.repository.has(name), traceSettings: options.traceSettings });
    this.#sharedMemory = options.allowSharedMemory ? new SystemSharedMemory() : null;
  }

  /**
   * The system shared-memory registry, for register/unregister/status, after the access check:
   * on only with --allow-shared-memory, and under the control rule (AccessPolicy: the control token,
   * or a loopback client under a local Host).
   */
  systemSharedMemory(caller: Caller): SystemSharedMemory {
    const registry = this.#requireSharedMemory();
    this.access.authorizeControl(caller);
    return registry;
  }

  /** CUDA shared memory as a CPU-only Triton answers it (same switch and access rule as system shared memory). */
  cudaSharedMemory(caller: Caller): CudaSharedMemory {
    return new CudaSharedMemory(this.systemSharedMemory(caller));
  }

  #requireSharedMemory(): SystemSharedMemory {
    if (!this.#sharedMemory) throw new VireoError('VIREO_ERR_PERMISSION_DENIED', 'system shared memory is off on this server: start it with --allow-shared-memory');
    return this.#sharedMemory;
  }

  /** An input's data read from a registered region (the request's shared_memory_* parameters). */
  sharedMemoryInput(ref: SharedMemoryRef, datatype: DataType, shape: readonly number[], count: number, what: string): TensorData {
    return readSharedMemoryInput(this.#requireSharedMemory(), ref, datatype, shape, count, what);
  }

  /** Triton's trace extension: the global settings, or a model's (which must exist). */
  traceSettings(model?: string): Record<string, string | string[]> {
    return this.#settings.traceSettings(model);
  }

  updateTraceSettings(body: unknown, model?: string): Record<string, string | string[]> {
    return this.#settings.updateTraceSettings(body, model);
  }

  /** Triton's logging extension. */
  logSettings(): LogSettingsJson {
    return this.#settings.logSettings();
  }

  updateLogSettings(body: unknown): LogSettingsJson {
    return this.#settings.updateLogSettings(body);
  }

  serverMetadata(): ServerMetadata {
    return { name: 'vireo', version: VERSION, extensions: [...this.#extensions] };
  }

  isLive(): boolean {
    return true;
  }

  isReady(): boolean {
    return !this.#admission.draining && this.repository.isReady(this.#strictReadiness);
  }

  /** True from startDraining on. */
  get draining(): boolean {
    return this.#admission.draining;
  }

  /** From now on readiness is false and new inference requests are refused (graceful drain). */
  startDraining(): void {
    this.#admission.startDraining();
  }

  /** Resolves once every admitted inference request has been answered (after startDraining). */
  drained(): Promise<void> {
    return this.#admission.drained();
  }

  get inflight(): number {
    return this.#admission.inflight;
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

  /** The configuration as Triton writes it (model_config.proto as protobuf JSON): GET .../config, ModelConfig RPC. */
  tritonModelConfig(name: string, version?: string): Record<string, unknown> {
    return toTritonForm(this.modelConfig(name, version));
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const mv = this.repository.resolve(name, version);
    const { config } = mv;
    const batchDim = config.max_batch_size > 0 ? [-1] : [];
    const describe = (t: ModelConfig['input'][number]) => ({ name: t.name, datatype: t.data_type, shape: [...batchDim, ...t.dims] });
    return {
      name,
      versions: this.repository.versionsOf(name).filter((v) => v.state === 'READY').map((v) => v.version),
      platform: config.platform ?? config.backend,
      inputs: config.input.map(describe),
      outputs: config.output.map(describe),
    };
  }

  async infer(request: InferRequest): Promise<InferResponse> {
    this.#admission.checkOpen();
    checkBytesRequest(request.inputs);
    checkRequestCounts(request);
    return this.#admission.admitted(() => this.#infer(request));
  }

  /** True when a request for a model that is not loaded loads it (`--model-memory-budget`). */
  get loadsOnDemand(): boolean {
    return this.repository.loadsOnDemand;
  }

  /**
   * True when the repository has the model: loaded, loading, or loaded once and since unloaded or failed
   * (what it answers for rather than "unknown model"). A model only on disk is not counted: see
   * repositoryIndex for those.
   */
  hasModel(name: string): boolean {
    return this.repository.has(name);
  }

  /**
   * Loads a model as a request to it would on a server that loads models on demand, for a caller that
   * needs it loaded before its first request (a batch job reads its lines by the model's configuration).
   * Resolves once a version serves (the model marked as just used); rejects with the load's error, or
   * NOT_FOUND for a model the repository does not have. Does nothing on a server that does not load on demand.
   */
  async loadOnDemand(name: string): Promise<void> {
    if (!this.repository.loadsOnDemand) return;
    this.repository.touch(name);
    await this.repository.ensureLoaded(name);
    if (!this.repository.has(name)) throw new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `Request for unknown model: '${clip(name)}' is not found`);
  }

  /**
   * NOT_FOUND for a model the repository does not have — checked before a request's inputs are
   * decoded, as Triton does (an unknown model is reported as such even when its inputs are wrong too).
   */
  requireModel(name: string, version?: string): void {
    // The version string is read first, as Triton reads it before looking the model up.
    if (version) checkVersionString(version);
    // An empty name is the frontend's own INVALID_ARGUMENT, reported when it parses the request. With a
    // memory budget a model is known only once loaded on demand: prepareRequest's ensureLoaded reports it then.
    if (name !== '' && !this.repository.loadsOnDemand && !this.repository.has(name)) throw new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `Request for unknown model: '${clip(name)}' is not found`);
  }

  /**
   * An inference request made of a dataframe's columns (CSV, Arrow or JSON records/columns).
   * `perRequestBounds` false: a full batch `vireo batch` built from its files, not a client's request.
   */
  dataframeRequest(model: string, version: string | undefined, table: Table, perRequestBounds = true): InferRequest {
    const mv = this.repository.resolve(model, version);
    if (!mv.codecs) throw new VireoError('VIREO_ERR_INTERNAL', `model "${model}" has no codecs`);
    return { model, version, inputs: mv.codecs.dataframeInputs(table, model, perRequestBounds) };
  }

  /**
   * A call from model code to another model (Triton's BLS): the same path as `infer`, but still
   * allowed while draining, since it serves a request that was already admitted.
   */
  async callModel(call: { model: string; version?: string; inputs: Tensor[]; outputs?: string[]; parameters?: InferRequest['parameters'] }): Promise<Tensor[]> {
    const response = await this.#infer({
      model: call.model,
      version: call.version,
      inputs: call.inputs,
      outputs: call.outputs?.map((name) => ({ name })),
      parameters: call.parameters,
    });
    return response.outputs;
  }

  /** Whether the model answers through streams only (model_transaction_policy.decoupled). */
  isDecoupled(model: string, version?: string): boolean {
    return this.repository.resolve(model, version).config.model_transaction_policy?.decoupled === true;
  }

  /**
   * Streaming inference: `onResponse` gets each response as it is ready — 0..N from a decoupled
   * model, exactly one from any other. Resolves after the last one; a failure after some
   * responses rejects with the error (the responses already given stay given).
   */
  async inferStream(request: InferRequest, onResponse: (response: InferResponse) => void): Promise<void> {
    this.#admission.checkOpen();
    // The same bounds as infer: decoders check only each input's element count, so the request's
    // BYTES total (--max-bytes-total) and its elements over all inputs are checked here.
    checkBytesRequest(request.inputs);
    checkRequestCounts(request);
    await this.#admission.admitted(async () => {
      const { mv, validated } = await prepareRequest(this.repository, request);
      const respond = (outputs: Tensor[]) => onResponse(buildResponse(request, mv, outputs));
      const options = { priority: request.priority, timeoutUs: request.timeoutUs, signal: request.signal, parameters: request.parameters, trace: request.trace };
      if (mv.scheduler.stream) await mv.scheduler.stream(validated.inputs, validated.outputs, options, respond);
      else respond(await mv.scheduler.enqueue(validated.inputs, validated.outputs, validated.items, options));
    });
  }

  async #infer(request: InferRequest): Promise<InferResponse> {
    // An output asked for in shared memory on a server without it is refused as an input would be, not answered inline.
    if (!this.#sharedMemory && request.outputs?.some((o) => o.parameters?.shared_memory_region !== undefined)) this.#requireSharedMemory();
    const { mv, validated } = await prepareRequest(this.repository, request);
    const outputs: Tensor[] = await mv.scheduler.enqueue(validated.inputs, validated.outputs, validated.items, {
      priority: request.priority,
      timeoutUs: request.timeoutUs,
      signal: request.signal,
      parameters: request.parameters,
      trace: request.trace,
      background: request.background,
    });
    const response = buildResponse(request, mv, outputs);
    if (this.#sharedMemory && request.outputs) writeSharedMemoryOutputs(this.#sharedMemory, request, response);
    return response;
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

  /** The repository index as of the last scan (see refreshRepositoryIndex); `ready` keeps READY rows. */
  repositoryIndex(options: { ready?: boolean } = {}): ModelIndexEntry[] {
    return this.repository.index(options);
  }

  /** Rescans the repository directory so the index lists models added since. */
  async refreshRepositoryIndex(): Promise<void> {
    await this.repository.discover();
  }

  /** The peer was checked by its frontend (authorizeControl); here only the mode, for embedders. */
  #requireControlMode(): void {
    checkControlAccess(this.repository.controlMode, '127.0.0.1', true);
  }

  /**
   * Throws unless `caller` may use a control operation: the model repository API (which must also
   * be on: poll or explicit mode) or a settings change (`repository` false).
   */
  authorizeControl(caller: Caller, repository = true): void {
    this.access.authorizeControl(caller, repository);
  }

  /**
   * Loads or reloads a model (the repository extension's load): with `config`, that configuration
   * replaces the model's file; `files` are written into the model's directory first. Resolves once
   * the model serves its new versions; rejects with the reason when a version fails to load.
   */
  async loadModel(name: string, options: LoadModelOptions = {}): Promise<void> {
    this.#requireControlMode();
    checkModelName(name);
    if (this.#admission.draining) throw new VireoError('VIREO_ERR_SERVER_SHUTTING_DOWN', 'the server is shutting down');
    try {
      const { config, files } = readLoadRequest(name, options, this.logger);
      await this.repository.load(name, { config, files });
    } catch (error) {
      // Triton's words: clients (simple_*_model_control.py) look for "failed to load" in the message.
      if (!(error instanceof VireoError)) throw error;
      throw new VireoError(error.code, `failed to load '${name}', ${error.message}`, { cause: error });
    }
  }

  /**
   * Unloads a model: it stops taking requests, finishes those it admitted, and ends its workers.
   * A name the repository holds nothing of (never loaded, or a folder added since the last scan) is
   * already unloaded: success with nothing to do, as Triton's ModelRepositoryManager::LoadUnloadModel
   * answers an unload without polling the repository.
   */
  async unloadModel(name: string, options: UnloadModelOptions = {}): Promise<void> {
    this.#requireControlMode();
    checkModelName(name);
    if (!this.repository.has(name)) return;
    // Dependents (ensembles using the model) go first, so nothing routes to it while it unloads.
    if (options.unloadDependents) for (const dependent of this.repository.dependentsOf(name)) await this.repository.unload(dependent);
    await this.repository.unload(name);
  }
}
