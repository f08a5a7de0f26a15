/**
 * Checks a request against its model's configuration before it is queued: inputs present and
 * known, datatypes and shapes as configured, batch within max_batch_size, outputs known.
 * Returns the request's batch size (items) and the tensors as the model expects them (reshape).
 * Messages are Triton's own words (core src/infer_request.cc, src/model.cc) where Triton has them:
 * clients and Triton's tests match on them.
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

/** Triton's note on a shape mismatch of a batching model (infer_request.cc). */
const BATCH_NOTE = 'NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended to each input shape. '
  + 'If you want to specify the full shape including the batch dim in your input dims config, try setting max_batch_size to zero. '
  + 'See the model configuration docs for more info on max_batch_size.';

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
    if (!spec) throw new VireoError('VIREO_ERR_INPUT_UNKNOWN', `unexpected inference input '${tensor.name}' for model '${model}'`);
    if (seen.has(tensor.name)) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `input "${tensor.name}" is given more than once`);
    seen.add(tensor.name);
    if (tensor.datatype !== spec.data_type) {
      throw new VireoError('VIREO_ERR_INPUT_DATATYPE', `inference input '${tensor.name}' data-type is '${tensor.datatype}', but model '${model}' expects '${spec.data_type}'`);
    }
    const expected = batching ? [-1, ...spec.dims] : spec.dims;
    if (!matches(tensor.shape, expected)) {
      throw new VireoError('VIREO_ERR_INPUT_SHAPE', `unexpected shape for input '${tensor.name}' for model '${model}'. Expected ${shapeText(expected)}, got ${shapeText(tensor.shape)}. ${batching ? BATCH_NOTE : ''}`);
    }
    const count = elementCount(tensor.shape, `input "${tensor.name}"`);
    if (tensor.data.length !== count) {
      throw new VireoError('VIREO_ERR_INPUT_DATA', `input "${tensor.name}": ${tensor.data.length} elements for shape ${shapeText(tensor.shape)}, which needs ${count}`);
    }
    if (batching) {
      const batch = tensor.shape[0]!;
      if (batch < 1) throw new VireoError('VIREO_ERR_INPUT_SHAPE', `input '${tensor.name}': batch dimension must be at least 1 for '${model}'`);
      if (items !== -1 && batch !== items) {
        throw new VireoError('VIREO_ERR_INPUT_SHAPE', `input '${tensor.name}' batch size does not match other inputs for '${model}'`);
      }
      if (batch > config.max_batch_size) {
        throw new VireoError('VIREO_ERR_BATCH_TOO_LARGE', `inference request batch-size must be <= ${config.max_batch_size} for '${model}'`);
      }
      items = batch;
    }
    if (onnxStrings && tensor.datatype === 'BYTES') checkOnnxStrings(tensor);
    const reshape = spec.reshape?.shape;
    inputs.push(reshape ? { ...tensor, shape: batching ? [tensor.shape[0]!, ...reshape] : [...reshape] } : tensor);
  }

  const missing = config.input.filter((i) => !i.optional && !seen.has(i.name));
  if (missing.length > 0) {
    const list = (names: string[]) => `[${names.map((n) => `'${n}'`).join(',')}]`;
    const required = config.input.filter((i) => !i.optional).length;
    const expected = required === config.input.length ? `expected ${required} inputs` : `expected number of inputs between ${required} and ${config.input.length}`;
    throw new VireoError('VIREO_ERR_INPUT_MISSING', `${expected} but got ${request.inputs.length} inputs for model '${model}'. Got input(s) ${list([...seen])}, but missing required input(s) ${list(missing.map((i) => i.name))}. Please provide all required input(s).`);
  }

  const outputs: string[] = [];
  for (const requested of request.outputs ?? []) {
    if (!config.output.some((o) => o.name === requested.name)) {
      throw new VireoError('VIREO_ERR_OUTPUT_UNKNOWN', `unexpected inference output '${requested.name}' for model '${model}'`);
    }
    checkClassification(requested.parameters?.classification, config.output.find((o) => o.name === requested.name)!.dims, requested.name);
    // Triton refuses an output named twice in one request (each output is answered once).
    if (outputs.includes(requested.name)) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `output '${requested.name}' is requested more than once for model '${model}'`);
    outputs.push(requested.name);
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
