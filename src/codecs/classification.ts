/**
 * Triton's classification extension: an output requested with `parameters.classification: k`
 * comes back as BYTES [batch, k] (or [k]) of "value:index[:label]", the k highest values of each
 * row, ties to the lower index. Values print as C++'s std::to_string does, as Triton's do.
 */
import type { DataType, NumericArray } from '../core/datatypes.js';
import { VireoError } from '../core/errors.js';
import { fromBFloat16Bits, fromHalfBits } from '../core/half-float.js';
import type { Tensor } from '../core/tensor.js';

const encoder = new TextEncoder();

function valueAt(data: NumericArray, datatype: DataType, i: number): number {
  const raw = data[i]!;
  if (datatype === 'FP16') return fromHalfBits(raw as number);
  if (datatype === 'BF16') return fromBFloat16Bits(raw as number);
  return Number(raw);
}

function format(value: number, datatype: DataType): string {
  return ['FP16', 'BF16', 'FP32', 'FP64'].includes(datatype) ? value.toFixed(6) : String(value);
}

/** The classification count of a requested output, or undefined when it asks for none. */
export function classificationCount(parameters: Record<string, unknown> | undefined, output: string): number | undefined {
  const k = parameters?.classification;
  if (k === undefined) return undefined;
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 1) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `output "${output}": parameter "classification" must be a positive integer`);
  }
  return k;
}

export function classify(tensor: Tensor, k: number, labels: readonly string[] | undefined, batched: boolean): Tensor {
  if (tensor.datatype === 'BYTES' || tensor.datatype === 'BOOL') {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `output "${tensor.name}" is ${tensor.datatype}; classification needs a numeric output`);
  }
  const data = tensor.data as NumericArray;
  const rows = batched ? tensor.shape[0]! : 1;
  const perRow = rows === 0 ? 0 : data.length / rows;
  const count = Math.min(k, perRow);
  const out: Uint8Array[] = [];
  for (let r = 0; r < rows; r++) {
    const base = r * perRow;
    const order = Array.from({ length: perRow }, (_, i) => i)
      .sort((a, b) => valueAt(data, tensor.datatype, base + b) - valueAt(data, tensor.datatype, base + a) || a - b)
      .slice(0, count);
    for (const index of order) {
      const label = labels?.[index];
      const text = `${format(valueAt(data, tensor.datatype, base + index), tensor.datatype)}:${index}${label !== undefined ? `:${label}` : ''}`;
      out.push(encoder.encode(text));
    }
  }
  return { name: tensor.name, datatype: 'BYTES', shape: batched ? [rows, count] : [count], data: out };
}
