/**
 * Opens a request's trace on the REST frontends: W3C `traceparent`/`tracestate` headers as the
 * parent, the request id as an attribute. Returns undefined, without reading a header, while no
 * model is traced.
 */
import type { FastifyRequest } from 'fastify';
import type { RequestTrace, RequestTracer } from '../../core/observability.js';

/** A header that occurs once, as text; repeated trace headers are invalid (W3C trace-context §3.2). */
function headerText(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function startHttpTrace(tracer: RequestTracer | null, request: FastifyRequest, model: string, version: string | undefined): RequestTrace | undefined {
  if (tracer === null || !tracer.active) return undefined;
  return tracer.start(model, version, {
    traceparent: headerText(request.headers.traceparent), tracestate: headerText(request.headers.tracestate),
  }, request.id);
}
