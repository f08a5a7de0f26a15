/**
 * Checks a request against its model's configuration before it is queued: inputs present and
 * known, datatypes and shapes as configured, batch within max_batch_size, outputs known.
 * Returns the request's batch size (items) and the tensors as the model expects them (reshape).
 */
import { VireoError } from '../core/errors.js';
import type { InferRequest } from '../core/inference.js';
import { elementCount, type Tensor } from '../core/tensor.js';
import type { ModelConfig } from '../repository/model-config.js';

export interface ValidatedRequest {
  inputs: Tensor[];
  outputs: string[];
  items: number;
}

const shapeText = (dims: readonly number[]) => `[${dims.join(',')}]`;

function matches(shape: readonly number[], dims: readonly number[]): boolean {
  return shape.length === dims.length && dims.every((d, i) => d === -1 || d === shape[i]);
}

/**
 * The classification extension's k: a positive integer no larger than the output's elements per
 * item (a larger k would only be clamped, and 1e9 would be read as a request to sort that many).
 * With a variable dimension the per-item size is known only after the model ran, so k is bounded
 * by MAX_CLASSIFICATION then.
 */
export const MAX_CLASSIFICATION = 65_536;

function checkClassification(k: unknown, dims: readonly number[], output: string): void {
  if (k === undefined) return;
  const perItem = dims.every((d) => d >= 0) ? dims.reduce((a, b) => a * b, 1) : MAX_CLASSIFICATION;
  const limit = Math.min(perItem, MAX_CLASSIFICATION);
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 1 || k > limit) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `output "${output}": parameter "classification" must be an integer from 1 to ${limit} (the output's ${dims.every((d) => d >= 0) ? `${perItem} elements per item` : 'limit for variable-size outputs'})`);
  }
}

export function validateRequest(request: InferRequest, config: ModelConfig): ValidatedRequest {
  const model = config.name;
  const batching = config.max_batch_size > 0;
  const seen = new Set<string>();
  let items = batching ? -1 : 1;
  const inputs: Tensor[] = [];
  const onnxStrings = config.backend === 'onnx';

  for (const tensor of request.inputs) {
    const spec = config.input.find((i) => i.name === tensor.name);
    if (!spec) {
      throw new VireoError('VIREO_ERR_INPUT_UNKNOWN', `unexpected input "${tensor.name}" for model "${model}" (expected ${config.input.map((i) => `"${i.name}"`).join(', ')})`);
    }
    if (seen.has(tensor.name)) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `input "${tensor.name}" is given more than once`);
    seen.add(tensor.name);
    if (tensor.datatype !== spec.data_type) {
      throw new VireoError('VIREO_ERR_INPUT_DATATYPE', `input "${tensor.name}": datatype ${tensor.datatype} does not match the model's ${spec.data_type}`);
    }
    const expected = batching ? [-1, ...spec.dims] : spec.dims;
    if (!matches(tensor.shape, expected)) {
      throw new VireoError('VIREO_ERR_INPUT_SHAPE', `input "${tensor.name}": shape ${shapeText(tensor.shape)} does not match the model's ${shapeText(expected)}${batching ? ' (first dimension: batch)' : ''}`);
    }
    const count = elementCount(tensor.shape, `input "${tensor.name}"`);
    if (tensor.data.length !== count) {
      throw new VireoError('VIREO_ERR_INPUT_DATA', `input "${tensor.name}": ${tensor.data.length} elements for shape ${shapeText(tensor.shape)}, which needs ${count}`);
    }
    if (batching) {
      const batch = tensor.shape[0]!;
      if (batch < 1) throw new VireoError('VIREO_ERR_INPUT_SHAPE', `input "${tensor.name}": batch dimension must be at least 1`);
      if (batch > config.max_batch_size) {
        throw new VireoError('VIREO_ERR_BATCH_TOO_LARGE', `input "${tensor.name}": batch size ${batch} exceeds the model's max_batch_size ${config.max_batch_size}`);
      }
      if (items !== -1 && batch !== items) {
        throw new VireoError('VIREO_ERR_INPUT_SHAPE', `input "${tensor.name}": batch size ${batch} differs from the other inputs' ${items}`);
      }
      items = batch;
    }
    if (onnxStrings && tensor.datatype === 'BYTES') checkOnnxStrings(tensor);
    const reshape = spec.reshape?.shape;
    inputs.push(reshape ? { ...tensor, shape: batching ? [tensor.shape[0]!, ...reshape] : [...reshape] } : tensor);
  }

  const missing = config.input.filter((i) => !i.optional && !seen.has(i.name));
  if (missing.length > 0) {
    throw new VireoError('VIREO_ERR_INPUT_MISSING', `model "${model}" expects input ${missing.map((i) => `"${i.name}"`).join(', ')}, which the request does not have`);
  }

  const outputs: string[] = [];
  for (const requested of request.outputs ?? []) {
    if (!config.output.some((o) => o.name === requested.name)) {
      throw new VireoError('VIREO_ERR_OUTPUT_UNKNOWN', `unknown output "${requested.name}" requested from model "${model}" (it has ${config.output.map((o) => `"${o.name}"`).join(', ')})`);
    }
    checkClassification(requested.parameters?.classification, config.output.find((o) => o.name === requested.name)!.dims, requested.name);
    if (!outputs.includes(requested.name)) outputs.push(requested.name);
  }
  return { inputs, outputs, items: items === -1 ? 1 : items };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * ONNX Runtime's string tensors hold C strings of text: an element would be cut at its first NUL
 * byte, and bytes that are not UTF-8 would become U+FFFD on the way in. Either is refused here, per
 * request (before batching), instead of reaching the model changed.
 */
function checkOnnxStrings(tensor: Tensor): void {
  const elements = tensor.data as Uint8Array[];
  for (let i = 0; i < elements.length; i++) {
    const element = elements[i]!;
    if (element.indexOf(0) !== -1) {
      throw new VireoError('VIREO_ERR_INPUT_DATA', `input "${tensor.name}": element ${i} contains a NUL byte, which an ONNX Runtime string tensor cannot hold (it would be cut there); send such data as UINT8 to a model that takes bytes`);
    }
    try {
      strictUtf8.decode(element);
    } catch {
      throw new VireoError('VIREO_ERR_INPUT_DATA', `input "${tensor.name}": element ${i} is not valid UTF-8, which an ONNX Runtime string tensor cannot hold unchanged; send such data as UINT8 to a model that takes bytes`);
    }
  }
}
