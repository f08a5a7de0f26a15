/**
 * OIP REST JSON bodies ⇄ core request and response types (open_inference_rest.yaml). Every body this
 * reads was JSON text (REST bodies, the binary extension's JSON header, batch JSONL lines): a number
 * JSON.parse read as ±Infinity was a literal beyond the double range, refused like any overflow.
 */
import { parseWireDataType, type DataType } from '../../core/datatypes.js';
import { VireoError } from '../../core/errors.js';
import { markNumericSequenceId, type InferRequest, type Parameters, type RequestedOutput } from '../../core/inference.js';
import { InexactJsonNumber, jsonTextToTensorData } from '../../core/json-tensors.js';
import { elementCount, type Tensor } from '../../core/tensor.js';
import { checkInputCount, checkOutputCount, checkParameterCount, TensorBytesBudget } from '../../core/request-limits.js';
import { sharedMemoryRef, type SharedMemoryRef } from '../../server/system-shared-memory.js';

interface JsonInput { name?: unknown; shape?: unknown; datatype?: unknown; data?: unknown; parameters?: unknown }

const malformed = (message: string): never => {
  throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', message);
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const MAX_U64 = (1n << 64n) - 1n;

export function parseParameters(value: unknown, where: string): Parameters | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) malformed(`${where}: parameters must be an object`);
  for (const [key, v] of Object.entries(value as object)) {
    // An integer beyond ±2^53 (read exactly, see exact-json.ts) stays exact as its decimal text, as over gRPC.
    if (typeof v === 'bigint') {
      // Triton's sequence_id is a uint64 (or a string): a larger integer is refused, not taken as a string id.
      if (key === 'sequence_id' && (v < 0n || v > MAX_U64)) malformed(`${where}: parameter "sequence_id" must be an unsigned 64-bit integer or a string, got ${v}`);
      (value as Record<string, unknown>)[key] = String(v);
      if (key === 'sequence_id') markNumericSequenceId(value as Parameters);
    }
    else if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) throw new InexactJsonNumber(`${where}: parameter "${key}" is beyond ±2^53 and was not read exactly`);
    // JSON has no Infinity: a literal beyond the double range, which no parameter type (int64, double) holds.
    else if (v === Infinity || v === -Infinity) malformed(`${where}: parameter "${key}" is a number literal beyond the range of a double (±1.7976931348623157e308)`);
    else if (!['string', 'number', 'boolean'].includes(typeof v)) malformed(`${where}: parameter "${key}" must be a string, number or boolean`);
  }
  return value as Parameters;
}

export function parseShape(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    return malformed(`${what}: shape must be an array of non-negative integers`);
  }
  return value as number[];
}

/** One input's header fields (name, datatype, shape, parameters), validated. */
export function parseInputHeader(raw: unknown, index: number): { name: string; datatype: DataType; shape: number[]; parameters?: Parameters; count: number } {
  if (!isObject(raw)) return malformed(`inputs[${index}] must be an object`);
  const input = raw as JsonInput;
  if (typeof input.name !== 'string' || input.name === '') return malformed(`inputs[${index}]: "name" must be a non-empty string`);
  const what = `input "${input.name}"`;
  if (typeof input.datatype !== 'string') return malformed(`${what}: "datatype" must be a string`);
  const datatype = parseWireDataType(input.datatype);
  if (!datatype) {
    const hint = input.datatype.startsWith('TYPE_') ? ` (on the wire datatypes are spelled without TYPE_, e.g. "${input.datatype.slice(5) === 'STRING' ? 'BYTES' : input.datatype.slice(5)}")` : '';
    throw new VireoError('VIREO_ERR_INPUT_DATATYPE', `${what}: unknown datatype "${input.datatype}"${hint}`);
  }
  const shape = parseShape(input.shape, what);
  const count = elementCount(shape, what);
  return { name: input.name, datatype, shape, parameters: parseParameters(input.parameters, what), count };
}

/** Parameters whose type the extensions fix: a wrong type is refused, not read as absent. */
function checkTypedParameters(parameters: Parameters | undefined, where: string, output: boolean): void {
  if (!parameters) return;
  const flag = output ? 'binary_data' : 'binary_data_output';
  if (parameters[flag] !== undefined && typeof parameters[flag] !== 'boolean') malformed(`${where}: parameter "${flag}" must be true or false`);
  const k = parameters.classification;
  if (output && k !== undefined && (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 1)) malformed(`${where}: parameter "classification" must be a positive integer`);
}

export function parseOutputs(value: unknown): RequestedOutput[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return malformed('"outputs" must be an array');
  checkOutputCount(value.length);
  return value.map((o, i) => {
    if (!isObject(o) || typeof o.name !== 'string') return malformed(`outputs[${i}]: "name" must be a string`);
    const parameters = parseParameters(o.parameters, `output "${o.name}"`);
    checkTypedParameters(parameters, `output "${o.name}"`, true);
    return { name: o.name, parameters };
  });
}

/** Schedule-policy parameters (extension_schedule_policy.md) lifted onto the request. */
export function applyScheduleParameters(request: InferRequest): InferRequest {
  const p = request.parameters;
  if (!p) return request;
  const numeric = (key: string): number | undefined => {
    const v = p[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) malformed(`parameter "${key}" must be a non-negative integer`);
    return v as number;
  };
  request.priority = numeric('priority');
  request.timeoutUs = numeric('timeout');
  return request;
}

/**
 * Parses an OIP inference request body. `binaryInput` supplies the data of inputs that carry
 * `binary_data_size` (the binary extension); without it such inputs are an error.
 */
/** Reads an input's data from system shared memory (the facade's sharedMemoryInput). */
export type SharedMemoryInput = (ref: SharedMemoryRef, datatype: Tensor['datatype'], shape: readonly number[], count: number, what: string) => Tensor['data'];

export function parseInferBody(
  body: unknown,
  model: string,
  version: string | undefined,
  binaryInput?: (input: { name: string; datatype: Tensor['datatype']; shape: number[]; count: number; size: number }) => Tensor['data'],
  sharedMemoryInput?: SharedMemoryInput,
): InferRequest {
  if (!isObject(body)) return malformed('the request body must be a JSON object');
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) return malformed('"inputs" must be a non-empty array');
  if (body.id !== undefined && typeof body.id !== 'string') malformed('"id" must be a string');
  checkInputCount(body.inputs.length);
  if (Array.isArray(body.outputs)) checkOutputCount(body.outputs.length);
  // Counted before any is read (keys of what is an object; anything else is refused when read), one
  // key at a time: the count stops at the first one past the limit, and no array of keys is made.
  let parameterCount = 0;
  const count = (owner: unknown) => {
    if (isObject(owner) && isObject(owner.parameters)) for (const _key in owner.parameters) checkParameterCount(++parameterCount);
  };
  count(body);
  for (const raw of body.inputs) count(raw);
  if (Array.isArray(body.outputs)) for (const raw of body.outputs) count(raw);
  const budget = new TensorBytesBudget();
  const inputs: Tensor[] = body.inputs.map((raw: unknown, index: number) => {
    const header = parseInputHeader(raw, index);
    const what = `input "${header.name}"`;
    budget.admit(header.datatype, header.count, what);
    const size = header.parameters?.binary_data_size;
    let data: Tensor['data'];
    const shm = sharedMemoryRef(header.parameters, what);
    if (shm) {
      if ((raw as JsonInput).data !== undefined || size !== undefined) malformed(`${what}: has shared_memory_region and also "data" or binary_data_size`);
      if (!sharedMemoryInput) malformed(`${what}: shared memory inputs are not available here`);
      data = sharedMemoryInput!(shm, header.datatype, header.shape, header.count, what);
    } else if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) malformed(`${what}: binary_data_size must be a non-negative integer`);
      if ((raw as JsonInput).data !== undefined) malformed(`${what}: has both "data" and binary_data_size`);
      if (!binaryInput) malformed(`${what}: binary_data_size given but the request has no binary part (Inference-Header-Content-Length header missing)`);
      data = binaryInput!({ ...header, size: size as number });
    } else {
      if ((raw as JsonInput).data === undefined) malformed(`${what}: has neither "data" nor a binary_data_size parameter`);
      data = jsonTextToTensorData((raw as JsonInput).data, header.datatype, header.count, what, header.shape);
    }
    return { name: header.name, datatype: header.datatype, shape: header.shape, data };
  });
  const parameters = parseParameters(body.parameters, 'request');
  checkTypedParameters(parameters, 'request', false);
  return applyScheduleParameters({
    id: body.id as string | undefined,
    model,
    version,
    inputs,
    outputs: parseOutputs(body.outputs),
    parameters,
  });
}
