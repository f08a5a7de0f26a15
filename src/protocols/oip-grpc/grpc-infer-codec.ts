/**
 * ModelInferRequest / ModelInferResponse messages ⇄ core InferRequest / InferResponse. A request
 * carries its data either typed (`contents` per input) or raw (`raw_input_contents`, one entry per
 * input, in input order), never both. The response always answers in `raw_output_contents`, whatever
 * form the request used, as Triton does (its clients and tests index raw_output_contents).
 */
import { parseDataType } from '../../core/datatypes.js';
import { VireoError } from '../../core/errors.js';
import type { InferRequest, InferResponse } from '../../core/inference.js';
import { elementCount, type Tensor } from '../../core/tensor.js';
import { checkInputCount, checkOutputCount, TensorBytesBudget } from '../../core/request-limits.js';
import { applyScheduleParameters, type SharedMemoryInput } from '../oip-http/oip-json-codec.js';
import { sharedMemoryRef } from '../../server/system-shared-memory.js';
import { fromInferParameters, toInferParameters, type InferParameterMessage } from './grpc-parameters.js';
import { fromRawContents, fromTypedContents, toRawContents, usedContentsFields, type TensorContentsMessage } from './grpc-tensor-contents.js';

type ParameterMap = Record<string, InferParameterMessage>;

export interface InferInputMessage {
  name: string;
  datatype: string;
  shape: (string | number)[];
  parameters: ParameterMap;
  contents: TensorContentsMessage | null;
}

export interface ModelInferRequestMessage {
  model_name: string;
  model_version: string;
  id: string;
  parameters: ParameterMap;
  inputs: InferInputMessage[];
  outputs: { name: string; parameters: ParameterMap }[];
  raw_input_contents: Uint8Array[];
}

export interface ModelInferResponseMessage {
  model_name: string;
  model_version: string;
  id: string;
  parameters: ParameterMap;
  outputs: { name: string; datatype: string; shape: number[]; parameters: ParameterMap; contents: Partial<TensorContentsMessage> | null }[];
  raw_output_contents: Uint8Array[];
}

export interface ParsedInferRequest {
  request: InferRequest;
}

const EMPTY = Buffer.alloc(0);

const malformed = (message: string): never => {
  throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', message);
};

/** int64 dims arrive as decimal strings; each must be a non-negative safe integer. */
function parseShape(shape: (string | number)[], what: string): number[] {
  return shape.map((d) => {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0) malformed(`${what}: shape [${shape.join(',')}] has an invalid dimension ${d}`);
    return n;
  });
}

function parseInput(input: InferInputMessage, index: number, raw: Uint8Array | undefined, sharedMemoryInput: SharedMemoryInput | undefined, model: string, budget: TensorBytesBudget): Tensor {
  if (!input.name) malformed(`inputs[${index}]: "name" must be a non-empty string`);
  const what = `input "${input.name}"`;
  const datatype = parseDataType(input.datatype);
  if (!datatype) throw new VireoError('VIREO_ERR_INPUT_DATATYPE', `${what}: unknown datatype "${input.datatype}"`);
  const shape = parseShape(input.shape, what);
  const count = elementCount(shape, what);
  budget.admit(datatype, count, what);
  const shm = sharedMemoryRef(fromInferParameters(input.parameters), what);
  if (shm && !sharedMemoryInput) malformed(`${what}: shared memory inputs are not available here`);
  if (shm && usedContentsFields(input.contents).length > 0) {
    malformed(`unexpected 'content' provided when using shared memory for input tensor '${input.name}' for model '${model}'`);
  }
  const data = shm ? sharedMemoryInput!(shm, datatype, shape, count, what)
    : raw ? fromRawContents(raw, datatype, count, what) : fromTypedContents(input.contents, datatype, count, what);
  return { name: input.name, datatype, shape, data };
}

/** Validates and converts a request; `signal` is aborted when the call is cancelled. */
export function parseModelInferRequest(message: ModelInferRequestMessage, signal?: AbortSignal, sharedMemoryInput?: SharedMemoryInput): ParsedInferRequest {
  if (!message.model_name) malformed('"model_name" must be a non-empty string');
  const inputs = message.inputs ?? [];
  if (inputs.length === 0) malformed('the request has no inputs');
  checkInputCount(inputs.length);
  checkOutputCount(message.outputs?.length ?? 0);
  const budget = new TensorBytesBudget();
  const raws = message.raw_input_contents ?? [];
  const raw = raws.length > 0;
  // Inputs in shared memory have no entry in raw_input_contents (Triton's client adds none).
  const inMemory = inputs.map((i) => i.parameters?.shared_memory_region !== undefined);
  const carried = inMemory.filter((m) => !m).length;
  if (raw) {
    // Triton's words (grpc_explicit_int_content_client.py checks them): one form of data per request.
    const typed = inputs.find((i) => usedContentsFields(i.contents).length > 0);
    if (typed) malformed(`contents field must not be specified when using raw_input_contents for '${typed.name}' for model '${message.model_name}'`);
    if (raws.length !== carried) malformed(`raw_input_contents has ${raws.length} entries but the request has ${carried} inputs outside shared memory`);
  }
  let next = 0;
  const request: InferRequest = {
    id: message.id || undefined,
    model: message.model_name,
    version: message.model_version || undefined,
    inputs: inputs.map((input, i) => parseInput(input, i, raw && !inMemory[i] ? raws[next++] : undefined, sharedMemoryInput, message.model_name, budget)),
    outputs: (message.outputs ?? []).map((o, i) => {
      if (!o.name) malformed(`outputs[${i}]: "name" must be a non-empty string`);
      return { name: o.name, parameters: fromInferParameters(o.parameters) };
    }),
    parameters: fromInferParameters(message.parameters),
    signal,
  };
  return { request: applyScheduleParameters(request) };
}

export function toModelInferResponse(response: InferResponse): ModelInferResponseMessage {
  return {
    model_name: response.model,
    model_version: response.version,
    id: response.id ?? '',
    parameters: toInferParameters(response.parameters),
    outputs: response.outputs.map((t) => ({
      name: t.name,
      datatype: t.datatype,
      shape: [...t.shape],
      parameters: toInferParameters(response.sharedMemoryOutputs?.[t.name]),
      contents: null,
    })),
    // An output written into shared memory keeps its place with an empty entry, as Triton answers.
    raw_output_contents: response.outputs.map((t) => (response.sharedMemoryOutputs?.[t.name] ? EMPTY : toRawContents(t.data, t.datatype))),
  };
}
