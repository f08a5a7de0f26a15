/**
 * Triton's logging extension (extension_logging.md) over the pino logger: the settings map onto
 * one pino level threshold — log_verbose_level 2+ → trace, 1 → debug, otherwise info, warn or
 * error as the first of log_info, log_warning, log_error that is on (all off: silent) — and
 * log_format onto the `time` field (default: epoch milliseconds, ISO8601: an ISO 8601 string).
 * Child loggers created without their own level (every one Vireo makes, including fastify's
 * per-request ones) inherit level and time function through pino's prototype chain, so a change
 * applies everywhere at once.
 */
import { pino, type Logger } from 'pino';

export interface LogSettingsJson {
  log_file: string;
  log_info: boolean;
  log_warning: boolean;
  log_error: boolean;
  log_verbose_level: number;
  log_format: 'default' | 'ISO8601';
  [key: string]: string | boolean | number;
}

/** A bad settings request; the composition root turns it into the protocol's 400. */
export class LogSettingsError extends Error {}

const TIME = pino.symbols.timeSym;

export class LogSettings {
  readonly #logger: Logger;
  readonly #values: LogSettingsJson;

  constructor(logger: Logger) {
    this.#logger = logger;
    const level = logger.level;
    this.#values = {
      log_file: '',
      log_info: !['warn', 'error', 'fatal', 'silent'].includes(level),
      log_warning: !['error', 'fatal', 'silent'].includes(level),
      log_error: level !== 'silent',
      log_verbose_level: level === 'trace' ? 2 : level === 'debug' ? 1 : 0,
      log_format: 'default',
    };
  }

  get(): LogSettingsJson {
    return { ...this.#values };
  }

  /** Validates the whole request first, so a bad field changes nothing. */
  update(body: unknown): LogSettingsJson {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new LogSettingsError('the log setting request must be a JSON object');
    const next = { ...this.#values };
    for (const [name, value] of Object.entries(body)) {
      // The spec's own example answers with plural spellings: accept both.
      const key = name === 'log_warnings' ? 'log_warning' : name === 'log_errors' ? 'log_error' : name;
      switch (key) {
        case 'log_info': case 'log_warning': case 'log_error':
          if (typeof value !== 'boolean') throw new LogSettingsError(`log setting "${name}" must be a boolean`);
          next[key] = value;
          break;
        case 'log_verbose_level':
          // Triton's field is a uint32.
          if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2 ** 32 - 1) throw new LogSettingsError('log setting "log_verbose_level" must be an integer from 0 to 4294967295');
          next.log_verbose_level = value;
          break;
        case 'log_format':
          if (value !== 'default' && value !== 'ISO8601') throw new LogSettingsError('log setting "log_format" must be "default" or "ISO8601"');
          next.log_format = value;
          break;
        case 'log_file':
          if (value !== '' && value !== this.#values.log_file) throw new LogSettingsError('log setting "log_file" cannot be changed: Vireo logs to standard output');
          break;
        default:
          throw new LogSettingsError(`unknown log setting "${name}" (expected log_info, log_warning, log_error, log_verbose_level, log_format)`);
      }
    }
    Object.assign(this.#values, next);
    this.#apply();
    return this.get();
  }

  #apply(): void {
    const v = this.#values;
    this.#logger.level = v.log_verbose_level >= 2 ? 'trace' : v.log_verbose_level === 1 ? 'debug'
      : v.log_info ? 'info' : v.log_warning ? 'warn' : v.log_error ? 'error' : 'silent';
    (this.#logger as unknown as Record<symbol, unknown>)[TIME] = v.log_format === 'ISO8601' ? pino.stdTimeFunctions.isoTime : pino.stdTimeFunctions.epochTime;
  }
}
