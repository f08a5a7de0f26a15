/**
 * The seams between the request path and observability, free of any metrics or tracing library:
 * frontends report requests to a ProtocolRecorder and open a RequestTrace through a RequestTracer;
 * app/ wires in the implementations (metrics/, tracing/), so nothing on the request path imports
 * prom-client or OpenTelemetry.
 */

/** What frontends report once per answered request; route is a template, never a raw path. */
export interface ProtocolRecorder {
  protocolRequest(protocol: string, route: string, status: string | number): void;
  /** A request refused before it reached a model (malformed, over a limit, unauthenticated), by a bounded reason. */
  rejectedRequest?(protocol: string, reason: string): void;
}

/** W3C trace context as read from HTTP headers or gRPC metadata (lower-case keys). */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/**
 * One traced inference request. The frontend opens it on arrival; the facade marks when the
 * request enters the queue; the scheduler hands it back (opaquely) with the batch it ran in; the
 * frontend marks the start of output encoding and ends it once the response is written.
 */
export interface RequestTrace {
  /** 32 hex digits: the trace id, propagated from the caller's traceparent when there was one. */
  readonly traceId: string;
  queued(): void;
  encoding(): void;
  end(error?: unknown): void;
}

export interface RequestTracer {
  /** False while no model can be traced: frontends then skip `start` (and building its carrier) entirely. */
  readonly active: boolean;
  /** Undefined when this request is not traced (tracing off for the model, or not sampled). */
  start(model: string, version: string | undefined, carrier: TraceCarrier, requestId?: string): RequestTrace | undefined;
}

/** Triton's trace settings, global or per model, as JSON (extension_trace.md); tracing/ implements it. */
export interface TraceSettingsControl {
  get(model?: string): Record<string, string | string[]>;
  /** Throws VireoError VIREO_ERR_REQUEST_MALFORMED for a bad request, changing nothing. */
  update(body: unknown, model?: string): Record<string, string | string[]>;
}

/** What the batch API reports at scrape time (metrics/ turns it into gauges and counters). */
export interface BatchJobsSnapshot {
  /** Jobs by OpenAI batch status. */
  jobs: ReadonlyMap<string, number>;
  /** Requests answered (and failed) by batch jobs since the process started. */
  requestsCompleted: number;
  requestsFailed: number;
  /** Requests of every job kept (any status), from the jobs' own counts: what a restart does not reset. */
  rows: { total: number; completed: number; failed: number };
  /** Bytes under the batch directory. */
  storageBytes: number;
}
