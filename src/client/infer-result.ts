/** The InferResult every transport returns, and a helper for BYTES outputs that hold text. */
import type { InferOutput, InferResult, Parameters } from './types.js';

export function makeInferResult(fields: { modelName: string; modelVersion: string; id?: string; parameters?: Parameters; outputs: InferOutput[] }): InferResult {
  return {
    ...fields,
    output(name: string): InferOutput {
      const found = fields.outputs.find((o) => o.name === name);
      if (!found) throw new Error(`the response has no output "${name}" (it has ${fields.outputs.map((o) => `"${o.name}"`).join(', ') || 'none'})`);
      return found;
    },
  };
}

/** A BYTES output's elements decoded as UTF-8. */
export function outputStrings(output: InferOutput): string[] {
  if (output.datatype !== 'BYTES') throw new TypeError(`output "${output.name}" is ${output.datatype}, not BYTES`);
  const decoder = new TextDecoder();
  return (output.data as Uint8Array[]).map((e) => decoder.decode(e));
}
