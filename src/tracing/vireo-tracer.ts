/**
 * Vireo's OpenTelemetry tracing, the only place the SDK is used. Requests are traced per Triton's
 * trace settings (off by default; `GET|POST /v2[/models/{m}]/trace/setting` change them at run
 * time), with the caller's W3C traceparent/tracestate as parent. Spans go to the exporter chosen
 * by the standard environment: OTEL_TRACES_EXPORTER (otlp, the default; console; none), the
 * OTLP/HTTP exporter's OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT/HEADERS/TIMEOUT, OTEL_BSP_* for the
 * batch processor, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; OTEL_SDK_DISABLED=true turns
 * tracing off altogether. With tracing off, `start` is one field check and allocates nothing.
 */
import { ROOT_CONTEXT, TraceFlags, defaultTextMapGetter, trace, type Context, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor,
  type SpanExporter, type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { RequestTrace, RequestTracer, TraceCarrier } from '../core/observability.js';
import type { Logger } from '../logging/logger.js';
import { RequestSpan } from './request-span.js';
import { TraceRecorder } from './trace-recorder.js';
import { TraceSettings, type TraceValues } from './trace-settings.js';

export interface TracingOptions extends Partial<TraceValues> {
  logger: Logger;
  serviceVersion: string;
  /** Replaces the exporter the environment selects, exported span by span (tests use an in-memory one). */
  exporter?: SpanExporter;
  env?: Record<string, string | undefined>;
}

const propagator = new W3CTraceContextPropagator();

function exportersFromEnv(env: Record<string, string | undefined>, logger: Logger): SpanProcessor[] {
  const names = (env.OTEL_TRACES_EXPORTER ?? 'otlp').split(',').map((n) => n.trim().toLowerCase()).filter(Boolean);
  const processors: SpanProcessor[] = [];
  for (const name of names) {
    if (name === 'none') return [];
    if (name === 'otlp') {
      const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
      if (protocol && protocol !== 'http/json') logger.warn({ protocol }, 'Vireo exports OTLP traces as http/json; the configured OTLP protocol is ignored');
      processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
    } else if (name === 'console') {
      processors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
    } else {
      logger.warn({ exporter: name }, 'unknown OTEL_TRACES_EXPORTER value ignored (expected otlp, console or none)');
    }
  }
  return processors;
}

export class VireoTracer implements RequestTracer {
  readonly settings: TraceSettings;
  readonly #provider: BasicTracerProvider | undefined;
  readonly #tracer: Tracer | undefined;

  constructor(options: TracingOptions) {
    const env = options.env ?? process.env;
    this.settings = new TraceSettings({ level: options.level ?? 'OFF', rate: options.rate ?? 1000, count: options.count ?? -1 });
    if (!options.exporter && env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') {
      options.logger.info('OTEL_SDK_DISABLED is true: requests are never traced');
      return;
    }
    const resource = resourceFromAttributes({ 'service.name': 'vireo', 'service.version': options.serviceVersion })
      .merge(detectResources({ detectors: [envDetector] }));
    const spanProcessors = options.exporter ? [new SimpleSpanProcessor(options.exporter)] : exportersFromEnv(env, options.logger);
    this.#provider = new BasicTracerProvider({ resource, sampler: new AlwaysOnSampler(), spanProcessors });
    this.#tracer = this.#provider.getTracer('vireo', options.serviceVersion);
  }

  get active(): boolean {
    return this.settings.anyOn && this.#tracer !== undefined;
  }

  start(model: string, version: string | undefined, carrier: TraceCarrier, requestId?: string): RequestTrace | undefined {
    if (!this.settings.anyOn || this.#tracer === undefined) return undefined;
    let parent: Context = ROOT_CONTEXT;
    let parentSampled: boolean | undefined;
    if (carrier.traceparent !== undefined) {
      const extracted = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
      const remote = trace.getSpanContext(extracted);
      if (remote) {
        parent = extracted;
        parentSampled = (remote.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
      }
    }
    if (!this.settings.sample(model, parentSampled)) return undefined;
    const attributes: Record<string, string> = { 'vireo.model': model };
    if (version) attributes['vireo.model_version'] = version;
    if (requestId) attributes['vireo.request_id'] = requestId;
    return new RequestSpan(this.#tracer, parent, `infer ${model}`, attributes);
  }

  /** The scheduler-side recorder for one version (batch spans); undefined when tracing is disabled. */
  recorderFor(model: string, version: string): TraceRecorder | undefined {
    return this.#tracer ? new TraceRecorder(this.#tracer, model, version) : undefined;
  }

  /** Exports what is still buffered, then stops. */
  async shutdown(): Promise<void> {
    await this.#provider?.shutdown();
  }
}
