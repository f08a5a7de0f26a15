/**
 * The facade every frontend calls, and the only one: metadata, health, inference, statistics and
 * configuration. Frontends never reach a scheduler or backend directly (Triton's in-process API
 * plays the same part between its HTTP/gRPC frontends and its core).
 */
import type { Table } from '../codecs/dataframe-codec.js';
import { checkBytesRequest } from '../core/bytes-limits.js';
import { checkRequestCounts } from '../core/request-limits.js';
import { VireoError } from '../core/errors.js';
import type { InferRequest, InferResponse, ModelIndexEntry, ModelMetadata, ServerMetadata } from '../core/inference.js';
import { processInflight } from '../core/inflight-requests.js';
import type { ProtocolRecorder, RequestTracer, TraceSettingsControl } from '../core/observability.js';
import { LogSettings, LogSettingsError, type LogSettingsJson } from '../logging/log-settings.js';
import type { Tensor } from '../core/tensor.js';
import type { Logger } from '../logging/logger.js';
import { parseWithTritonFields, warnUnimplemented } from '../repository/config-file.js';
import type { ModelConfig } from '../repository/model-config.js';
import { coerceProtoJson, toTritonForm } from '../repository/triton-config.js';
import type { ModelRepository } from '../repository/model-repository.js';
import { checkModelName, type UploadedFile } from '../repository/model-upload.js';
import { AccessPolicy, type Caller } from './access-policy.js';
import { checkControlAccess } from './control-access.js';
import { sharedMemoryRef, SystemSharedMemory, type SharedMemoryRef } from './system-shared-memory.js';
import { dataTypeInfo, type DataType, type NumericArray } from '../core/datatypes.js';
import { packBytes, unpackBytes, viewAs, type TensorData } from '../core/tensor.js';
import type { ModelVersionStats } from '../scheduler/statistics.js';
import { validateRequest } from './request-validation.js';
import { VERSION } from './version.js';
import { clip } from '../core/bounded-text.js';

type ReadyVersion = ReturnType<ModelRepository['resolve']>;

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

export interface LoadModelOptions {
  /** A model configuration, as JSON text (Triton's `config` parameter) or an object. */
  config?: string | Record<string, unknown>;
  /** Model files, keyed `<version>/<file name>` (the `file:` parameters without the prefix). */
  files?: Record<string, Uint8Array>;
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
  readonly #traceSettings: TraceSettingsControl | undefined;
  readonly #logSettings: LogSettings;
  /** Null unless --allow-shared-memory: then every shared-memory call is refused. */
  readonly #sharedMemory: SystemSharedMemory | null;
  #draining = false;
  /** Inference requests admitted and not yet answered. */
  #inflight = 0;
  #drained: (() => void) | undefined;

  constructor(options: InferenceServerOptions) {
    this.repository = options.repository;
    this.logger = options.logger;
    this.tracer = options.tracer ?? null;
    this.protocolRecorder = options.protocolRecorder ?? null;
    this.#extensions = options.extensions ?? [];
    this.#strictReadiness = options.strictReadiness ?? true;
    this.access = options.access ?? new AccessPolicy({ controlMode: options.repository.controlMode, allowRemoteControl: options.allowRemoteControl });
    this.#traceSettings = options.traceSettings;
    this.#logSettings = new LogSettings(options.logger);
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

  #requireSharedMemory(): SystemSharedMemory {
    if (!this.#sharedMemory) throw new VireoError('VIREO_ERR_PERMISSION_DENIED', 'system shared memory is off on this server: start it with --allow-shared-memory');
    return this.#sharedMemory;
  }

  /** An input's data read from a registered region (the request's shared_memory_* parameters). */
  sharedMemoryInput(ref: SharedMemoryRef, datatype: DataType, shape: readonly number[], count: number, what: string): TensorData {
    const bytes = this.#requireSharedMemory().read(ref);
    if (datatype === 'BYTES') return unpackBytes(bytes, count, what);
    const expected = count * dataTypeInfo(datatype).size;
    if (bytes.byteLength !== expected) {
      throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: shared_memory_byte_size is ${bytes.byteLength} bytes but shape [${shape.join(',')}] of ${datatype} needs ${expected}`);
    }
    return viewAs(datatype, bytes, count);
  }

  /** Writes the outputs the request asked for in shared memory into their regions; marks them in the response. */
  #writeSharedMemoryOutputs(request: InferRequest, response: InferResponse): void {
    for (const output of request.outputs ?? []) {
      const ref = sharedMemoryRef(output.parameters, `output '${output.name}'`);
      if (!ref) continue;
      const tensor = response.outputs.find((t) => t.name === output.name);
      if (!tensor) continue;
      const bytes = tensor.datatype === 'BYTES' ? packBytes(tensor.data as Uint8Array[]) : new Uint8Array((tensor.data as NumericArray).buffer, (tensor.data as NumericArray).byteOffset, (tensor.data as NumericArray).byteLength);
      this.#requireSharedMemory().write(ref, bytes, `output '${output.name}'`);
      (response.sharedMemoryOutputs ??= {})[output.name] = {
        shared_memory_region: ref.region,
        shared_memory_byte_size: bytes.byteLength,
        ...(ref.offset !== 0 ? { shared_memory_offset: ref.offset } : {}),
      };
    }
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
    if (model !== undefined && !this.repository.has(model)) throw new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `Request for unknown model: '${clip(model)}' is not found`);
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

  /** True from startDraining on. */
  get draining(): boolean {
    return this.#draining;
  }

  /** From now on readiness is false and new inference requests are refused (graceful drain). */
  startDraining(): void {
    this.#draining = true;
  }

  /** Resolves once every admitted inference request has been answered (after startDraining). */
  drained(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#drained;
      this.#drained = () => { previous?.(); resolve(); };
    });
  }

  get inflight(): number {
    return this.#inflight;
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
    if (this.#draining) throw new VireoError('VIREO_ERR_SERVER_SHUTTING_DOWN', 'the server is shutting down and takes no new requests');
    checkBytesRequest(request.inputs);
    checkRequestCounts(request);
    this.#inflight++;
    processInflight.begin();
    try {
      return await this.#infer(request);
    } finally {
      processInflight.end();
      if (--this.#inflight === 0 && this.#drained) {
        const drained = this.#drained;
        this.#drained = undefined;
        drained();
      }
    }
  }

  /**
   * NOT_FOUND for a model the repository does not have — checked before a request's inputs are
   * decoded, as Triton does (an unknown model is reported as such even when its inputs are wrong too).
   */
  requireModel(name: string): void {
    // An empty name is the frontend's own INVALID_ARGUMENT, reported when it parses the request. With a
    // memory budget a model is known only once loaded on demand: #infer's ensureLoaded reports it then.
    if (name !== '' && !this.repository.loadsOnDemand && !this.repository.has(name)) throw new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `Request for unknown model: '${clip(name)}' is not found`);
  }

  /** An inference request made of a dataframe's columns (CSV, Arrow or JSON records/columns). */
  dataframeRequest(model: string, version: string | undefined, table: Table): InferRequest {
    const mv = this.repository.resolve(model, version);
    if (!mv.codecs) throw new VireoError('VIREO_ERR_INTERNAL', `model "${model}" has no codecs`);
    return { model, version, inputs: mv.codecs.dataframeInputs(table, model) };
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
    if (this.#draining) throw new VireoError('VIREO_ERR_SERVER_SHUTTING_DOWN', 'the server is shutting down and takes no new requests');
    checkRequestCounts(request);
    this.#inflight++;
    processInflight.begin();
    try {
      const { mv, validated } = await this.#prepare(request);
      const respond = (outputs: Tensor[]) => onResponse(this.#response(request, mv, outputs));
      const options = { priority: request.priority, timeoutUs: request.timeoutUs, signal: request.signal, parameters: request.parameters, trace: request.trace };
      if (mv.scheduler.stream) await mv.scheduler.stream(validated.inputs, validated.outputs, options, respond);
      else respond(await mv.scheduler.enqueue(validated.inputs, validated.outputs, validated.items, options));
    } finally {
      processInflight.end();
      if (--this.#inflight === 0 && this.#drained) {
        const drained = this.#drained;
        this.#drained = undefined;
        drained();
      }
    }
  }

  async #infer(request: InferRequest): Promise<InferResponse> {
    const { mv, validated } = await this.#prepare(request);
    const outputs: Tensor[] = await mv.scheduler.enqueue(validated.inputs, validated.outputs, validated.items, {
      priority: request.priority,
      timeoutUs: request.timeoutUs,
      signal: request.signal,
      parameters: request.parameters,
      trace: request.trace,
      background: request.background,
    });
    const response = this.#response(request, mv, outputs);
    if (this.#sharedMemory && request.outputs) this.#writeSharedMemoryOutputs(request, response);
    return response;
  }

  #response(request: InferRequest, mv: ReadyVersion, outputs: Tensor[]): InferResponse {
    const shaped = this.#restoreShapes(outputs, mv.config);
    return { model: request.model, version: mv.version, id: request.id, outputs: mv.codecs ? mv.codecs.encodeOutputs(shaped, request.outputs) : shaped };
  }

  /** Resolves the version, decodes codec inputs and validates: everything before the request is queued. */
  async #prepare(request: InferRequest): Promise<{ mv: ReadyVersion; validated: ReturnType<typeof validateRequest> }> {
    this.repository.touch(request.model);
    // With a memory budget a model may be unloaded: the first request waits for its load. An
    // eviction can race the resolve, so a not-ready answer is retried a few times.
    for (let attempt = 0; this.repository.loadsOnDemand && attempt < 3; attempt++) {
      await this.repository.ensureLoaded(request.model);
      try {
        this.repository.resolve(request.model, request.version);
        break;
      } catch (error) {
        if (VireoError.from(error).code !== 'VIREO_ERR_MODEL_NOT_READY') break;
      }
    }
    let mv = this.repository.resolve(request.model, request.version);
    let validated: ReturnType<typeof validateRequest>;
    try {
      // Encoded images and texts become tensors before validation, so the model's own dims are checked.
      let decoded = mv.codecs ? await mv.codecs.decodeInputs(request) : request;
      // Decoding awaited: a hot reload may have swapped versions meanwhile. The request goes to the
      // version serving now (resolve to enqueue below is synchronous), so it never meets a retired one.
      for (let now = this.repository.resolve(request.model, request.version); now !== mv; now = this.repository.resolve(request.model, request.version)) {
        mv = now;
        decoded = mv.codecs ? await mv.codecs.decodeInputs(request) : request;
      }
      validated = validateRequest(decoded, mv.config);
    } catch (error) {
      // Counted against the version it was sent to, as the scheduler counts its own refusals.
      mv.recorder.request('failure', 0, 0, undefined, VireoError.from(error).code);
      throw error;
    }
    request.trace?.queued();
    return { mv, validated };
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
    if (this.#draining) throw new VireoError('VIREO_ERR_SERVER_SHUTTING_DOWN', 'the server is shutting down');
    const files: UploadedFile[] = Object.entries(options.files ?? {}).map(([path, bytes]) => ({ path, bytes }));
    if (files.length > 0 && options.config === undefined) {
      throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'model files were given without a "config" parameter (the repository extension requires one with files)');
    }
    let config;
    if (options.config !== undefined) {
      let raw: unknown = options.config;
      if (typeof raw === 'string') {
        try {
          raw = JSON.parse(raw);
        } catch (error) {
          throw new VireoError('VIREO_ERR_CONFIG_INVALID', `the "config" parameter is not valid JSON: ${(error as Error).message}`);
        }
      }
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new VireoError('VIREO_ERR_CONFIG_INVALID', 'the "config" parameter must be a JSON object');
      // Triton's clients send protobuf JSON ({"max_batch_size":"16"}, enum names); Vireo's spelling passes too.
      const read = parseWithTritonFields(coerceProtoJson(raw as Record<string, unknown>), 'given in the load request');
      config = read.config;
      warnUnimplemented(this.logger.child({ model: name }), 'load request', read.unimplemented);
      if (config.name !== undefined && config.name !== name) {
        throw new VireoError('VIREO_ERR_CONFIG_INVALID', `the given configuration names model "${config.name}", not "${name}"`);
      }
    }
    await this.repository.load(name, { config, files });
  }

  /** Unloads a model: it stops taking requests, finishes those it admitted, and ends its workers. */
  async unloadModel(name: string, options: UnloadModelOptions = {}): Promise<void> {
    this.#requireControlMode();
    checkModelName(name);
    // Dependents (ensembles using the model) go first, so nothing routes to it while it unloads.
    if (options.unloadDependents) for (const dependent of this.repository.dependentsOf(name)) await this.repository.unload(dependent);
    await this.repository.unload(name);
  }
}
