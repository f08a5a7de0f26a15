/**
 * Observability at the gRPC edge: per-call protocol counts (method and status name), request
 * traces continued from the `traceparent`/`tracestate` metadata, and Triton's TraceSetting and
 * LogSettings RPCs (the gRPC forms of the trace and logging extensions). Changing settings is a
 * control operation (server/access-policy.ts: the control token, or a loopback peer).
 */
import { status as GrpcStatus, type Metadata, type ServerUnaryCall, type UntypedHandleCall, type sendUnaryData } from '@grpc/grpc-js';
import { VireoError } from '../../core/errors.js';
import type { ProtocolRecorder, RequestTrace } from '../../core/observability.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { grpcCaller } from './grpc-peer.js';

const STATUS_NAME = Object.fromEntries(Object.entries(GrpcStatus).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k])) as Record<number, string>;

export const statusName = (code: number | undefined): string => STATUS_NAME[code ?? GrpcStatus.OK] ?? String(code);

/** Wraps each unary handler so its outcome is counted; streaming handlers count per message themselves. */
export function countUnary(handlers: Record<string, UntypedHandleCall>, recorder: ProtocolRecorder | null, streaming: ReadonlySet<string>): Record<string, UntypedHandleCall> {
  if (!recorder) return handlers;
  const out: Record<string, UntypedHandleCall> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    if (streaming.has(name)) {
      out[name] = handler;
      continue;
    }
    const unary = handler as (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void;
    out[name] = ((call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      unary(call, (error, response) => {
        recorder.protocolRequest('grpc', name, statusName(error ? (error as { code?: number }).code : GrpcStatus.OK));
        callback(error, response);
      });
    }) as UntypedHandleCall;
  }
  return out;
}

const one = (metadata: Metadata, key: string): string | undefined => {
  const values = metadata.get(key);
  return values.length === 1 && typeof values[0] === 'string' ? values[0] : undefined;
};

/** The request's trace, when tracing is active: W3C context from the call metadata. */
export function traceFromMetadata(server: InferenceServer, model: string, version: string | undefined, metadata: Metadata, id: string | undefined): RequestTrace | undefined {
  const tracer = server.tracer;
  if (!tracer?.active) return undefined;
  return tracer.start(model, version, { traceparent: one(metadata, 'traceparent'), tracestate: one(metadata, 'tracestate') }, one(metadata, 'x-request-id') ?? (id || undefined));
}

/** Changing settings is a control operation: the access guard decides (server/access-policy.ts). */
function assertControl(server: InferenceServer, call: ServerUnaryCall<unknown, unknown>): void {
  server.authorizeControl(grpcCaller(call), false);
}

interface TraceSettingMessage { settings: Record<string, { value: string[] } | null>; model_name: string }
type LogValue = { bool_param?: boolean; uint32_param?: number; string_param?: string; parameter_choice?: string };
interface LogSettingsMessage { settings: Record<string, LogValue | null> }

const toTraceResponse = (settings: Record<string, string | string[]>) => ({
  settings: Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, { value: Array.isArray(v) ? v : [v] }])),
});

/** TraceSetting: no settings reads; an empty value list clears a setting (JSON's null). */
export function traceSetting(server: InferenceServer) {
  return (request: TraceSettingMessage, call: ServerUnaryCall<TraceSettingMessage, unknown>) => {
    const { settings, model_name: model } = request;
    const names = Object.keys(settings ?? {});
    if (names.length === 0) return toTraceResponse(server.traceSettings(model || undefined));
    assertControl(server, call);
    const body: Record<string, unknown> = {};
    for (const name of names) {
      const values = settings[name]?.value ?? [];
      body[name] = values.length === 0 ? null : name === 'trace_level' ? values : values[0];
    }
    return toTraceResponse(server.updateTraceSettings(body, model || undefined));
  };
}

const toLogValue = (v: string | number | boolean) =>
  typeof v === 'boolean' ? { bool_param: v } : typeof v === 'number' ? { uint32_param: v } : { string_param: v };

/** LogSettings: no settings reads; each value is whichever member of its oneof is set. */
export function logSettings(server: InferenceServer) {
  return (request: LogSettingsMessage, call: ServerUnaryCall<LogSettingsMessage, unknown>) => {
    const names = Object.keys(request.settings ?? {});
    let current: Record<string, string | number | boolean>;
    if (names.length === 0) {
      current = server.logSettings();
    } else {
      assertControl(server, call);
      const body: Record<string, unknown> = {};
      for (const name of names) {
        const v = request.settings[name];
        const choice = v?.parameter_choice as keyof LogValue | undefined;
        if (!v || !choice) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `log setting "${name}" has no value`);
        body[name] = v[choice];
      }
      current = server.updateLogSettings(body);
    }
    return { settings: Object.fromEntries(Object.entries(current).map(([k, v]) => [k, toLogValue(v)])) };
  };
}
