/** Shared bits of the model lifecycle tests: the add-a-constant model and polling for a condition. */
import { addConstantModel } from '../../tools/modelgen/models.js';

/** Config for addConstantModel: FP32 [4], batching up to 8. */
export const ADD_CONFIG = {
  max_batch_size: 8,
  input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [4] }],
  output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [4] }],
};

export const addModel = (k: number) => addConstantModel(k, 4);
export const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

export function addRequest(x: number[]) {
  return { inputs: [{ name: 'INPUT', shape: [1, 4], datatype: 'FP32', data: x }] };
}

/** Polls `check` until it returns a truthy value; fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
