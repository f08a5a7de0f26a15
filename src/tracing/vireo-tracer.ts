/**
 * Vireo's OpenTelemetry tracing, the only place the SDK is used. Requests are traced per Triton's
 * trace settings (off by default; `GET|POST /v2[/models/{m}]/trace/setting` change them at run
 * time), with the caller's W3C traceparent/tracestate as parent. Spans go to the exporter chosen
 * by the standard environment: OTEL_TRACES_EXPORTER (otlp, the default; console; none), the
 * OTLP/HTTP exporter's OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT/HEADERS/TIMEOUT, OTEL_BSP_* for the
 * batch processor, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; OTEL_SDK_DISABLED=true turns
 * tracing off altogether. With tracing off, `start` is one field check and allocates nothing.
 *
 * The SDK (provider, exporters, resource detection, the W3C propagator: ≈ 500 modules) loads the first
 * time a request could be traced — at start when a trace level is configured, else when the trace
 * settings turn tracing on — so a server that never traces does not carry it. It loads synchronously
 * (its CommonJS build), so the request that finds tracing on is traced.
 */
import { createRequire } from 'node:module';
import { ROOT_CONTEXT, TraceFlags, defaultTextMapGetter, trace, type Context, type Span, type SpanOptions, type Tracer } from '@opentelemetry/api';
import type { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { BasicTracerProvider, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
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

const requireSdk = createRequire(import.meta.url);

interface Sdk {
  core: typeof import('@opentelemetry/core');
  resources: typeof import('@opentelemetry/resources');
  traceBase: typeof import('@opentelemetry/sdk-trace-base');
  otlp: typeof import('@opentelemetry/exporter-trace-otlp-http');
}

function loadSdk(): Sdk {
  return {
    core: requireSdk('@opentelemetry/core') as Sdk['core'],
    resources: requireSdk('@opentelemetry/resources') as Sdk['resources'],
    traceBase: requireSdk('@opentelemetry/sdk-trace-base') as Sdk['traceBase'],
    otlp: requireSdk('@opentelemetry/exporter-trace-otlp-http') as Sdk['otlp'],
  };
}

function exportersFromEnv(sdk: Sdk, env: Record<string, string | undefined>, logger: Logger): SpanProcessor[] {
  const { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor } = sdk.traceBase;
  const names = (env.OTEL_TRACES_EXPORTER ?? 'otlp').split(',').map((n) => n.trim().toLowerCase()).filter(Boolean);
  const processors: SpanProcessor[] = [];
  for (const name of names) {
    if (name === 'none') return [];
    if (name === 'otlp') {
      const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
      if (protocol && protocol !== 'http/json') logger.warn({ protocol }, 'Vireo exports OTLP traces as http/json; the configured OTLP protocol is ignored');
      processors.push(new BatchSpanProcessor(new sdk.otlp.OTLPTraceExporter()));
    } else if (name === 'console') {
      processors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
    } else {
      logger.warn({ exporter: name }, 'unknown OTEL_TRACES_EXPORTER value ignored (expected otlp, console or none)');
    }
  }
  return processors;
}

/** The SDK's tracer and propagator, made on first use. */
interface Live { provider: BasicTracerProvider; tracer: Tracer; propagator: W3CTraceContextPropagator }

export class VireoTracer implements RequestTracer {
  readonly settings: TraceSettings;
  /** Undefined when OTEL_SDK_DISABLED turns tracing off for good. */
  readonly #make: (() => Live) | undefined;
  #live: Live | undefined;
  /** What TraceRecorders are given before the SDK is loaded: spans exist only once it is. */
  readonly #tracer: Tracer = {
    startSpan: (name: string, options?: SpanOptions, context?: Context): Span => this.#sdk().tracer.startSpan(name, options, context),
    startActiveSpan: ((...args: Parameters<Tracer['startActiveSpan']>) => (this.#sdk().tracer.startActiveSpan as (...a: unknown[]) => unknown)(...args)) as Tracer['startActiveSpan'],
  };

  constructor(options: TracingOptions) {
    const env = options.env ?? process.env;
    this.settings = new TraceSettings({ level: options.level ?? 'OFF', rate: options.rate ?? 1000, count: options.count ?? -1 });
    if (!options.exporter && env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') {
      options.logger.info('OTEL_SDK_DISABLED is true: requests are never traced');
      return;
    }
    this.#make = () => {
      const sdk = loadSdk();
      const { resourceFromAttributes, detectResources, envDetector } = sdk.resources;
      const resource = resourceFromAttributes({ 'service.name': 'vireo', 'service.version': options.serviceVersion })
        .merge(detectResources({ detectors: [envDetector] }));
      const spanProcessors = options.exporter ? [new sdk.traceBase.SimpleSpanProcessor(options.exporter)] : exportersFromEnv(sdk, env, options.logger);
      const provider = new sdk.traceBase.BasicTracerProvider({ resource, sampler: new sdk.traceBase.AlwaysOnSampler(), spanProcessors });
      return { provider, tracer: provider.getTracer('vireo', options.serviceVersion), propagator: new sdk.core.W3CTraceContextPropagator() };
    };
    // Configured at start: loaded now, not on the first request.
    if (this.settings.anyOn) this.#sdk();
  }

  #sdk(): Live {
    this.#live ??= this.#make!();
    return this.#live;
  }

  get active(): boolean {
    return this.settings.anyOn && this.#make !== undefined;
  }

  start(model: string, version: string | undefined, carrier: TraceCarrier, requestId?: string): RequestTrace | undefined {
    if (!this.settings.anyOn || this.#make === undefined) return undefined;
    const live = this.#sdk();
    let parent: Context = ROOT_CONTEXT;
    let parentSampled: boolean | undefined;
    if (carrier.traceparent !== undefined) {
      const extracted = live.propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
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
    return new RequestSpan(live.tracer, parent, `infer ${model}`, attributes);
  }

  /** The scheduler-side recorder for one version (batch spans); undefined when tracing is disabled. */
  recorderFor(model: string, version: string): TraceRecorder | undefined {
    return this.#make ? new TraceRecorder(this.#tracer, model, version) : undefined;
  }

  /** Exports what is still buffered, then stops. */
  async shutdown(): Promise<void> {
    await this.#live?.provider.shutdown();
  }
}
