/**
 * The settings a client may read and change while the server runs: Triton's trace extension (global
 * or per model) and logging extension. Every change is logged; a malformed change is the client's error.
 */
import { clip } from '../core/bounded-text.js';
import { VireoError } from '../core/errors.js';
import type { TraceSettingsControl } from '../core/observability.js';
import { LogSettings, LogSettingsError, type LogSettingsJson } from '../logging/log-settings.js';
import type { Logger } from '../logging/logger.js';

export interface RuntimeSettingsOptions {
  logger: Logger;
  /** Whether the repository has the model a per-model trace setting names. */
  hasModel: (name: string) => boolean;
  /** Absent: the trace settings answer UNIMPLEMENTED. */
  traceSettings?: TraceSettingsControl;
}

export class RuntimeSettings {
  readonly #logger: Logger;
  readonly #hasModel: (name: string) => boolean;
  readonly #traceSettings: TraceSettingsControl | undefined;
  readonly #logSettings: LogSettings;

  constructor(options: RuntimeSettingsOptions) {
    this.#logger = options.logger;
    this.#hasModel = options.hasModel;
    this.#traceSettings = options.traceSettings;
    this.#logSettings = new LogSettings(options.logger);
  }

  /** The global trace settings, or a model's (which must exist). */
  traceSettings(model?: string): Record<string, string | string[]> {
    return this.#traceControl(model).get(model);
  }

  updateTraceSettings(body: unknown, model?: string): Record<string, string | string[]> {
    const settings = this.#traceControl(model).update(body, model);
    this.#logger.info({ model, settings }, 'trace settings changed');
    return settings;
  }

  #traceControl(model: string | undefined): TraceSettingsControl {
    if (!this.#traceSettings) throw new VireoError('VIREO_ERR_UNIMPLEMENTED', 'tracing is not configured on this server');
    if (model !== undefined && !this.#hasModel(model)) throw new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `Request for unknown model: '${clip(model)}' is not found`);
    return this.#traceSettings;
  }

  logSettings(): LogSettingsJson {
    return this.#logSettings.get();
  }

  updateLogSettings(body: unknown): LogSettingsJson {
    try {
      const settings = this.#logSettings.update(body);
      this.#logger.info({ settings }, 'log settings changed');
      return settings;
    } catch (error) {
      if (error instanceof LogSettingsError) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', error.message);
      throw error;
    }
  }
}
