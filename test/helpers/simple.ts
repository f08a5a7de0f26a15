/** Inputs for the `simple` model and the sums and differences a test expects, computed here. */
export function simpleRequest(a: number[], b: number[], extra: Record<string, unknown> = {}) {
  return {
    inputs: [
      { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: a },
      { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: b },
    ],
    ...extra,
  };
}

export const range16 = (offset = 0) => Array.from({ length: 16 }, (_, i) => i + offset);
export const add = (a: number[], b: number[]) => a.map((x, i) => x + b[i]!);
export const sub = (a: number[], b: number[]) => a.map((x, i) => x - b[i]!);
