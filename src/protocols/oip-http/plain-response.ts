/**
 * The plain JSON answer to an upload or a dataframe: `{"<output>": value, ...}`. A tensor of one
 * element is that value (a BYTES element holding a JSON object or array is inlined, other BYTES
 * are strings); larger tensors are nested arrays following their shape.
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

function nest(values: unknown[], shape: readonly number[]): unknown[] {
  if (shape.length <= 1) return values;
  const [outer, ...inner] = shape;
  const size = values.length / outer!;
  return Array.from({ length: outer! }, (_, i) => nest(values.slice(i * size, (i + 1) * size), inner));
}

export function plainResponse(response: InferResponse): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const tensor of response.outputs) {
    const values = tensorDataToJson(tensor.data, tensor.datatype, `output "${tensor.name}"`);
    out[tensor.name] = values.length === 1 ? inline(values[0]) : nest(values, tensor.shape);
  }
  return out;
}
