/** Conversions between Vireo tensors and onnxruntime tensors, sharing buffers where the types allow. */
import ort from 'onnxruntime-node';
import { dataTypeInfo, fromOrtType, type NumericArray } from '../../core/datatypes.js';
import { VireoError } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';

/** Fatal: invalid UTF-8 is an error, never U+FFFD. */
const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export function toOrtTensor(tensor: Tensor): ort.Tensor {
  const ortType = dataTypeInfo(tensor.datatype).ort;
  if (!ortType) {
    throw new VireoError('VIREO_ERR_INPUT_DATATYPE', `${tensor.name}: ${tensor.datatype} is not supported by onnxruntime`);
  }
  const dims = [...tensor.shape];
  if (tensor.datatype === 'BYTES') {
    // The facade refuses NUL bytes and invalid UTF-8 per request (request-validation.ts); this keeps any
    // other path (warmup samples) from cutting or replacing them silently.
    return new ort.Tensor('string', (tensor.data as Uint8Array[]).map((e, i) => {
      if (e.indexOf(0) !== -1) throw new VireoError('VIREO_ERR_INPUT_DATA', `${tensor.name}: element ${i} contains a NUL byte, which an ONNX Runtime string tensor cannot hold`);
      return decoder.decode(e);
    }), dims);
  }
  return new ort.Tensor(ortType as 'float32', tensor.data as Float32Array, dims);
}

export function fromOrtTensor(name: string, tensor: ort.Tensor): Tensor {
  const datatype = fromOrtType(tensor.type);
  if (!datatype) throw new VireoError('VIREO_ERR_BACKEND_EXECUTE', `output ${name} has type ${tensor.type}, which Vireo cannot return`);
  const shape = [...tensor.dims];
  if (datatype === 'BYTES') {
    return { name, datatype, shape, data: (tensor.data as string[]).map((s) => encoder.encode(s)) };
  }
  let data = tensor.data as NumericArray;
  // BOOL arrives as Uint8Array already; float16 may arrive as a Float16Array where the runtime has one.
  if (datatype === 'FP16' && !(data instanceof Uint16Array)) {
    data = new Uint16Array(data.buffer, data.byteOffset, data.length);
  }
  return { name, datatype, shape, data };
}
