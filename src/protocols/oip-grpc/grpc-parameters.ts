/** InferParameter maps (the proto's `oneof parameter_choice`) ⇄ core request and response parameters. */
import { markNumericSequenceId, type ParameterValue, type Parameters } from '../../core/inference.js';

export interface InferParameterMessage {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
}

/**
 * 64-bit integers arrive as decimal strings; they become numbers when exactly representable (so
 * `priority` and `timeout` check as integers) and stay strings otherwise, never silently rounded.
 */
function valueOf(p: InferParameterMessage): ParameterValue | undefined {
  switch (p.parameter_choice) {
    case 'bool_param': return p.bool_param!;
    case 'string_param': return p.string_param!;
    case 'double_param': return p.double_param!;
    case 'int64_param':
    case 'uint64_param': {
      const text = String(p[p.parameter_choice]);
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : text;
    }
    default: return undefined;
  }
}

/**
 * Triton takes an int64_param sequence_id as the uint64 of the same 64 bits (SetInferenceRequestMetadata
 * in its grpc/infer_handler.cc hands it to TRITONSERVER_InferenceRequestSetCorrelationId, a uint64), and
 * its C++ client sends a uint64 id that way: an id of 2^63 or more arrives negative. So -5 is 2^64 − 5,
 * always beyond 2^53: it stays text, marked numeric below.
 */
function int64SequenceId(text: string): ParameterValue {
  const id = BigInt(String(text));
  if (id >= 0n) return valueOf({ parameter_choice: 'int64_param', int64_param: text })!;
  return String(BigInt.asUintN(64, id));
}

/** An empty map is no parameters; a parameter with no value set is ignored, as proto3 cannot tell it from absent. */
export function fromInferParameters(map: Record<string, InferParameterMessage> | null | undefined): Parameters | undefined {
  if (!map) return undefined;
  let out: Parameters | undefined;
  for (const [key, p] of Object.entries(map)) {
    const value = key === 'sequence_id' && p.parameter_choice === 'int64_param' ? int64SequenceId(p.int64_param!) : valueOf(p);
    if (value === undefined) continue;
    (out ??= {})[key] = value;
    // A 64-bit sequence_id beyond 2^53 is kept as its text: still a number, not a string id.
    if (key === 'sequence_id' && typeof value === 'string' && p.parameter_choice !== 'string_param') markNumericSequenceId(out);
  }
  return out;
}

export function toInferParameters(parameters: Parameters | undefined): Record<string, InferParameterMessage> {
  const out: Record<string, InferParameterMessage> = {};
  for (const [key, value] of Object.entries(parameters ?? {})) {
    if (typeof value === 'boolean') out[key] = { bool_param: value };
    else if (typeof value === 'string') out[key] = { string_param: value };
    else if (Number.isSafeInteger(value)) out[key] = { int64_param: String(value) };
    else out[key] = { double_param: value };
  }
  return out;
}
