/**
 * Triton's trace settings (extension_trace.md): one global set and optional per-model overrides.
 * A model falls back to the global value of every setting it does not specify, also when the
 * global value changes later (Triton's "specified" flags); null removes a model's override.
 * Sampling: a request whose caller sent a W3C traceparent follows the caller's sampled flag;
 * otherwise one in `trace_rate` requests is traced, while `trace_count` (-1: unlimited) lasts.
 *
 * Vireo exports spans over OTLP (trace_mode "opentelemetry"), so the file settings of Triton's
 * own trace format exist only with their neutral values ("" and "0"); anything else is refused.
 */
import { VireoError } from '../core/errors.js';

export type TraceLevel = 'OFF' | 'TIMESTAMPS';

export interface TraceValues {
  level: TraceLevel;
  rate: number;
  count: number;
}

/** The JSON shape of a settings response: strings, and an array of strings for trace_level. */
export type TraceSettingsJson = Record<string, string | string[]>;

const bad = (message: string) => new VireoError('VIREO_ERR_REQUEST_MALFORMED', message);

const INT32_MAX = 2 ** 31 - 1;

function asText(name: string, value: unknown): string {
  if (Array.isArray(value) && value.length === 1) value = value[0];
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') throw bad(`trace setting "${name}" must be a string`);
  return value;
}

function asInteger(name: string, value: unknown, min: number): number {
  const text = asText(name, value).trim();
  const n = Number(text);
  // Triton's fields are 32-bit; beyond 2^31 the number would not even be read back as it was given.
  if (text === '' || !Number.isInteger(n) || n < min || n > INT32_MAX) throw bad(`trace setting "${name}" must be an integer from ${min} to ${INT32_MAX}, got "${text.slice(0, 40)}"`);
  return n;
}

function asLevel(value: unknown): TraceLevel {
  const levels = (Array.isArray(value) ? value : [value]).map((v) => asText('trace_level', v).toUpperCase());
  if (levels.length === 0) throw bad('trace setting "trace_level" needs at least one level (OFF or TIMESTAMPS)');
  if (levels.includes('TENSORS')) throw bad('trace level TENSORS is not supported: Vireo traces timestamps (spans), not tensor contents');
  for (const l of levels) if (l !== 'OFF' && l !== 'TIMESTAMPS') throw bad(`unknown trace level "${l}" (expected OFF or TIMESTAMPS)`);
  return levels.includes('TIMESTAMPS') ? 'TIMESTAMPS' : 'OFF';
}

/** Parses a settings request body into the overrides it sets (undefined value: remove). */
export function parseTraceSettings(body: unknown): Partial<Record<keyof TraceValues, number | TraceLevel | undefined>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('the trace setting request must be a JSON object');
  const out: Partial<Record<keyof TraceValues, number | TraceLevel | undefined>> = {};
  for (const [name, value] of Object.entries(body)) {
    switch (name) {
      case 'trace_level': out.level = value === null ? undefined : asLevel(value); break;
      case 'trace_rate': out.rate = value === null ? undefined : asInteger(name, value, 1); break;
      case 'trace_count': out.count = value === null ? undefined : asInteger(name, value, -1); break;
      case 'trace_file':
        if (value !== null && asText(name, value) !== '') throw bad('trace_file is not supported: Vireo exports traces over OTLP (configure OTEL_EXPORTER_OTLP_ENDPOINT)');
        break;
      case 'log_frequency':
        if (value !== null && asText(name, value) !== '0') throw bad('log_frequency is not supported: Vireo exports traces over OTLP as they end');
        break;
      case 'trace_mode':
        if (value !== null && asText(name, value) !== 'opentelemetry') throw bad('trace_mode must be "opentelemetry" (the only mode Vireo implements)');
        break;
      default:
        throw bad(`unknown trace setting "${name}" (expected trace_level, trace_rate, trace_count, trace_file, log_frequency, trace_mode)`);
    }
  }
  return out;
}

/** A settings layer: the global one holds every value, a model's holds only what it specified. */
class Layer {
  values: Partial<TraceValues>;
  /** Requests seen while this layer decides the rate (its own counter, as in Triton). */
  seen = 0;
  constructor(values: Partial<TraceValues>) {
    this.values = values;
  }
}

export class TraceSettings {
  readonly #defaults: TraceValues;
  readonly #global: Layer;
  readonly #models = new Map<string, Layer>();
  /** False while every layer is OFF: the per-request check is this one field. */
  #anyOn = false;

  constructor(defaults: TraceValues) {
    this.#defaults = { ...defaults };
    this.#global = new Layer({ ...defaults });
    this.#refresh();
  }

  get anyOn(): boolean {
    return this.#anyOn;
  }

  effective(model?: string): TraceValues {
    const own = model === undefined ? undefined : this.#models.get(model)?.values;
    return { ...(this.#global.values as TraceValues), ...stripUndefined(own ?? {}) };
  }

  get(model?: string): TraceSettingsJson {
    const v = this.effective(model);
    return {
      trace_level: [v.level], trace_rate: String(v.rate), trace_count: String(v.count),
      log_frequency: '0', trace_file: '', trace_mode: 'opentelemetry',
    };
  }

  /** Applies a POST body to the global settings or to one model's; returns the new effective settings. */
  update(body: unknown, model?: string): TraceSettingsJson {
    const changes = parseTraceSettings(body);
    if (model === undefined) {
      for (const [key, value] of Object.entries(changes) as [keyof TraceValues, never][]) {
        (this.#global.values as Record<string, unknown>)[key] = value ?? this.#defaults[key];
      }
    } else {
      const layer = this.#models.get(model) ?? new Layer({});
      this.#models.set(model, layer);
      for (const [key, value] of Object.entries(changes) as [keyof TraceValues, never][]) {
        (layer.values as Record<string, unknown>)[key] = value;
      }
    }
    this.#refresh();
    return this.get(model);
  }

  /**
   * Whether to trace one request to `model`. `parentSampled` is the caller's sampled flag, or
   * undefined when the request carried no valid traceparent.
   */
  sample(model: string, parentSampled: boolean | undefined): boolean {
    const own = this.#models.get(model);
    const level = own?.values.level ?? this.#global.values.level;
    if (level === 'OFF') return false;
    const countLayer = own?.values.count !== undefined ? own : this.#global;
    if (countLayer.values.count === 0) return false;
    if (parentSampled === undefined) {
      const rateLayer = own?.values.rate !== undefined ? own : this.#global;
      if (rateLayer.seen++ % rateLayer.values.rate! !== 0) return false;
    } else if (!parentSampled) {
      return false;
    }
    if (countLayer.values.count! > 0) countLayer.values.count!--;
    return true;
  }

  #refresh(): void {
    this.#anyOn = this.#global.values.level !== 'OFF' || [...this.#models.values()].some((l) => l.values.level === 'TIMESTAMPS');
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
