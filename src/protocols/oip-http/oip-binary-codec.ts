/**
 * Triton's binary tensor data extension (extension_binary_data.md) on the OIP infer route.
 *
 * Request body: `Inference-Header-Content-Length` bytes of JSON, then the binary inputs back to back
 * in the order the JSON lists them, each `parameters.binary_data_size` long. A header length of 0 is a
 * raw request: the whole body is the one input of a one-input model (shape deduced from its size).
 * Binary data is little-endian, BOOL one byte, FP16/BF16 raw bits, BYTES elements 4-byte length-prefixed.
 *
 * Zero copy: a numeric binary input becomes a typed-array view over the body buffer; only a
 * misaligned offset costs a copy (core/tensor.ts viewAs).
 */
import { dataTypeInfo, type DataType } from '../../core/datatypes.js';
import { VireoError } from '../../core/errors.js';
import type { InferRequest, InferResponse } from '../../core/inference.js';
import { tensorDataToJson } from '../../core/json-tensors.js';
import { jsonData } from './json-answer.js';
import { packBytes, unpackBytes, viewAs, type Tensor, type TensorData } from '../../core/tensor.js';
import { checkTensorBytes } from '../../core/request-limits.js';
import type { ModelConfig } from '../../repository/model-config.js';
import { DEFAULT_JSON_LIMITS, parseBoundedJson, type JsonLimits } from '../http-common/json-limits.js';
import { decodeExactly } from '../http-common/exact-json.js';
import { parseInferBody, type SharedMemoryInput } from './oip-json-codec.js';

const malformed = (message: string): never => {
  throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', message);
};

/** The `Inference-Header-Content-Length` value, or undefined when the request is plain JSON. */
export function inferenceHeaderLength(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header[0]! : header;
  if (!/^\s*\d{1,15}\s*$/.test(text)) malformed(`Inference-Header-Content-Length must be a non-negative integer, got "${text}"`);
  return Number(text);
}

/** Tensor data of `count` elements from a binary section; `what` names the input in errors. */
export function binaryTensorData(bytes: Uint8Array, datatype: DataType, shape: readonly number[], count: number, what: string): TensorData {
  if (datatype === 'BYTES') return unpackBytes(bytes, count, what);
  const expected = count * dataTypeInfo(datatype).size;
  if (bytes.byteLength !== expected) {
    throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: binary_data_size is ${bytes.byteLength} bytes but shape [${shape.join(',')}] of ${datatype} needs ${expected}`);
  }
  return viewAs(datatype, bytes, count);
}

/** Parses a request body carrying binary inputs after a JSON header of `headerLength` bytes. */
export function parseBinaryInferBody(body: Buffer, headerLength: number, model: string, version: string | undefined, sharedMemoryInput?: SharedMemoryInput, limits: JsonLimits = DEFAULT_JSON_LIMITS): InferRequest {
  if (headerLength > body.length) {
    malformed(`Inference-Header-Content-Length is ${headerLength} but the body has only ${body.length} bytes`);
  }
  const header = parseBoundedJson(body, limits, `the JSON header (first ${headerLength} bytes, per Inference-Header-Content-Length)`, 0, headerLength);
  let offset = headerLength;
  // A retry (an exact second reading of the header) starts the binary part over.
  const request = decodeExactly(header, (json) => {
    offset = headerLength;
    return parseInferBody(json, model, version, ({ name, datatype, shape, count, size }) => {
      const what = `input "${name}"`;
      if (offset + size > body.length) {
        malformed(`${what}: binary_data_size ${size} runs past the end of the body (${body.length - offset} bytes of binary data remain)`);
      }
      const bytes = body.subarray(offset, offset + size);
      offset += size;
      return binaryTensorData(bytes, datatype, shape, count, what);
    }, sharedMemoryInput);
  });
  if (offset !== body.length) {
    malformed(`the body has ${body.length - offset} bytes of binary data beyond the inputs' binary_data_size total (${offset - headerLength} bytes)`);
  }
  return request;
}

/**
 * A raw binary request (Inference-Header-Content-Length: 0): the body is the single input of a
 * one-input model; a batching model gets a batch of 1. At most one variable dimension is deduced
 * from the byte size; BYTES must have shape [1] and is one length-prefixed element, or, when the
 * body is not such an element, the element's bytes as they are.
 */
export function parseRawInferBody(body: Buffer, config: ModelConfig, model: string, version: string | undefined): InferRequest {
  if (config.input.length !== 1) {
    malformed(`a raw binary request (Inference-Header-Content-Length: 0) needs a model with exactly one input; "${model}" has ${config.input.length}`);
  }
  const spec = config.input[0]!;
  const datatype = spec.data_type as DataType;
  const what = `input "${spec.name}"`;
  const dims = [...(config.max_batch_size > 0 ? [1] : []), ...spec.dims];
  let data: TensorData;
  let shape: number[];
  if (datatype === 'BYTES') {
    if (dims.some((d) => d !== 1 && d !== -1)) malformed(`${what}: a raw BYTES request needs a model input of shape [1], not [${dims.join(',')}]`);
    shape = dims.map(() => 1);
    const prefixed = body.length >= 4 && body.readUInt32LE(0) === body.length - 4;
    data = prefixed ? unpackBytes(body, 1, what) : [body];
  } else {
    const size = dataTypeInfo(datatype).size;
    const variable = dims.filter((d) => d === -1).length;
    if (variable > 1) malformed(`${what}: a raw binary request cannot deduce shape [${dims.join(',')}] (more than one variable dimension)`);
    const fixed = dims.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (body.length % (size * Math.max(fixed, 1)) !== 0 || (fixed === 0 && body.length !== 0)) {
      malformed(`${what}: a raw body of ${body.length} bytes is not a whole number of [${dims.join(',')}] ${datatype} tensors`);
    }
    shape = dims.map((d) => (d === -1 ? body.length / size / fixed : d));
    const count = body.length / size;
    checkTensorBytes(body.length, what);
    if (variable === 0 && count !== fixed) malformed(`${what}: a raw body of ${body.length} bytes does not match shape [${dims.join(',')}] of ${datatype} (${fixed * size} bytes)`);
    data = viewAs(datatype, body, count);
  }
  return { model, version, inputs: [{ name: spec.name, datatype, shape, data }], parameters: { binary_data_output: true } };
}

/** Whether an output goes back as binary: its own `binary_data`, else the request's `binary_data_output`. */
function binaryWanted(request: InferRequest, name: string): boolean {
  const own = request.outputs?.find((o) => o.name === name)?.parameters?.binary_data;
  if (own !== undefined) return own === true;
  return request.parameters?.binary_data_output === true;
}

export interface EncodedResponse {
  /** The JSON header (or the whole JSON body when nothing is binary). */
  header: Record<string, unknown>;
  /** Binary sections in output order; empty for a JSON response. */
  binary: Uint8Array[];
}

function outputBytes(tensor: Tensor): Uint8Array {
  if (tensor.datatype === 'BYTES') return packBytes(tensor.data as Uint8Array[]);
  const data = tensor.data as Exclude<TensorData, Uint8Array[]>;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * The response as a JSON header plus binary sections for the outputs the request asked in binary.
 * With `deferNumbers`, a large numeric output's data is a DeferredNumbers (json-answer.ts) for
 * jsonAnswer to write; stringified as it is, it gives the same JSON.
 */
export function encodeInferResponse(response: InferResponse, request: InferRequest, deferNumbers = false): EncodedResponse {
  const binary: Uint8Array[] = [];
  const outputs = response.outputs.map((t) => {
    const base = { name: t.name, datatype: t.datatype, shape: t.shape };
    const inSharedMemory = response.sharedMemoryOutputs?.[t.name];
    if (inSharedMemory) return { ...base, parameters: inSharedMemory };
    if (!binaryWanted(request, t.name)) {
      const what = `output "${t.name}"`;
      return { ...base, data: deferNumbers ? jsonData(t.data, t.datatype, what) : tensorDataToJson(t.data, t.datatype, what) };
    }
    const bytes = outputBytes(t);
    binary.push(bytes);
    return { ...base, parameters: { binary_data_size: bytes.byteLength } };
  });
  const header = {
    model_name: response.model,
    model_version: response.version,
    ...(response.id !== undefined ? { id: response.id } : {}),
    ...(response.parameters ? { parameters: response.parameters } : {}),
    outputs,
  };
  return { header, binary };
}
