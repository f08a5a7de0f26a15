/**
 * One traced request: the request span (kind SERVER) and the child spans the tracer hangs off it
 * — `queue` (enqueue → batch start), `execute` (the batch, emitted by TraceRecorder) and
 * `encode_output` (response encoding → end). Times come from the scheduler's monotonic nowNs
 * clock, mapped to epoch once, so child spans never start before their parent.
 */
import { SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { VireoError } from '../core/errors.js';
import type { RequestTrace } from '../core/observability.js';
import { nowNs } from '../scheduler/recorder.js';

const BASE_NS = nowNs();
const BASE_EPOCH_MS = performance.timeOrigin + performance.now();

/** A nowNs reading as epoch milliseconds (OpenTelemetry's numeric TimeInput). */
export const epochMs = (ns: number): number => BASE_EPOCH_MS + (ns - BASE_NS) / 1e6;

export class RequestSpan implements RequestTrace {
  readonly span: Span;
  /** The context whose active span is this request's: the parent of every child span. */
  readonly context: Context;
  readonly traceId: string;
  readonly #tracer: Tracer;
  #queuedNs = 0;
  #queueClosed = false;
  #encodingNs = 0;

  constructor(tracer: Tracer, parent: Context, name: string, attributes: Record<string, string>) {
    this.#tracer = tracer;
    this.span = tracer.startSpan(name, { kind: SpanKind.SERVER, startTime: epochMs(nowNs()), attributes }, parent);
    this.context = trace.setSpan(parent, this.span);
    this.traceId = this.span.spanContext().traceId;
  }

  queued(): void {
    this.#queuedNs = nowNs();
  }

  /** The request's batch started at `startNs`: its queueing ends there. */
  closeQueue(startNs: number): void {
    if (this.#queuedNs === 0 || this.#queueClosed) return;
    this.#queueClosed = true;
    this.child('queue', this.#queuedNs).end(epochMs(startNs));
  }

  encoding(): void {
    this.#encodingNs = nowNs();
  }

  end(error?: unknown): void {
    const end = nowNs();
    if (this.#queuedNs !== 0 && !this.#queueClosed) {
      // Failed while queued (timeout, cancel, queue shut down): the queue span ends with it.
      this.#queueClosed = true;
      const queue = this.child('queue', this.#queuedNs);
      if (error !== undefined) queue.setStatus({ code: SpanStatusCode.ERROR });
      queue.end(epochMs(end));
    }
    if (this.#encodingNs !== 0) this.child('encode_output', this.#encodingNs).end(epochMs(end));
    if (error !== undefined) {
      const e = VireoError.from(error);
      this.span.setAttribute('vireo.error_code', e.code);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
    }
    this.span.end(epochMs(end));
  }

  /** A child span of this request that started at `startNs` (the caller ends it). */
  child(name: string, startNs: number): Span {
    return this.#tracer.startSpan(name, { startTime: epochMs(startNs) }, this.context);
  }
}
