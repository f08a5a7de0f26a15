/**
 * Concatenation of request inputs along dim 0 into one buffer per input (the one copy a batch
 * costs), and the split of batch outputs back into per-request views (no copy).
 */
import { dataTypeInfo, type NumericArray } from '../core/datatypes.js';
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';

/** Whether a tensor's typed array covers its whole ArrayBuffer, so it can be moved to a worker. */
function ownsBuffer(tensor: Tensor): boolean {
  if (Array.isArray(tensor.data)) return true;
  const data = tensor.data as NumericArray;
  return data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
}

/**
 * Inputs for one execution. A request alone in its batch passes its tensors through when they own
 * their buffers; otherwise every input is copied once into a fresh buffer.
 */
export function concatInputs(requests: readonly { inputs: readonly Tensor[]; items: number }[], batched: boolean): Tensor[] {
  const first = requests[0]!;
  if (requests.length === 1) {
    return first.inputs.map((t) => (ownsBuffer(t) ? t : copyTensor(t)));
  }
  if (!batched) throw new VireoError('VIREO_ERR_INTERNAL', 'several requests in one batch for a model without a batch dimension');
  const total = requests.reduce((sum, r) => sum + r.items, 0);
  return first.inputs.map((template, index) => {
    const shape = [total, ...template.shape.slice(1)];
    if (template.datatype === 'BYTES') {
      const data: Uint8Array[] = [];
      for (const r of requests) data.push(...(r.inputs[index]!.data as Uint8Array[]));
      return { name: template.name, datatype: template.datatype, shape, data };
    }
    const source = template.data as NumericArray;
    const perItem = source.length / requests[0]!.items;
    const Ctor = dataTypeInfo(template.datatype).array!;
    const data = new Ctor(total * perItem);
    let offset = 0;
    for (const r of requests) {
      const part = r.inputs[index]!.data as NumericArray;
      (data as Float32Array).set(part as Float32Array, offset);
      offset += part.length;
    }
    return { name: template.name, datatype: template.datatype, shape, data };
  });
}

function copyTensor(tensor: Tensor): Tensor {
  const source = tensor.data as NumericArray;
  return { ...tensor, data: source.slice() };
}

/** Every output of a batch of `batchItems` items has that many along its first dimension. */
export function checkBatchDimension(outputs: readonly Tensor[], batchItems: number): void {
  for (const output of outputs) {
    if (output.shape[0] !== batchItems) {
      throw new VireoError('VIREO_ERR_BACKEND_EXECUTE', `output ${output.name} has batch dimension ${output.shape[0]}, expected ${batchItems}`);
    }
  }
}

/** Views of each output for the request covering items [start, start + items) of the batch. */
export function sliceOutputs(outputs: readonly Tensor[], start: number, items: number, batchItems: number): Tensor[] {
  checkBatchDimension(outputs, batchItems);
  return outputs.map((output) => {
    const shape = [items, ...output.shape.slice(1)];
    if (Array.isArray(output.data)) {
      return { ...output, shape, data: output.data.slice(start, start + items) };
    }
    const data = output.data as NumericArray;
    const perItem = batchItems === 0 ? 0 : data.length / batchItems;
    return { ...output, shape, data: data.subarray(start * perItem, (start + items) * perItem) };
  });
}
