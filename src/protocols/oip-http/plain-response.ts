/**
 * The plain JSON answer to an upload: `{"<output>": value, ...}`. A single BYTES element holding a
 * JSON object or array is inlined, other BYTES elements are strings, a single number is a number
 * and anything else a flat array (the batch dimension of one request dropped).
 */
import type { InferResponse } from '../../core/inference.js';
import { tensorDataToJson } from '../../core/json-tensors.js';

function inline(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trimStart();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

export function plainResponse(response: InferResponse): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const tensor of response.outputs) {
    const values = tensorDataToJson(tensor.data, tensor.datatype);
    out[tensor.name] = values.length === 1 ? inline(values[0]) : values;
  }
  return out;
}
