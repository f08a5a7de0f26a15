/**
 * TF Serving / KServe V1 predict bodies ⇄ core requests and responses. Two formats
 * (TF Serving's "REST API" doc): row `{"instances": [...]}` → `{"predictions": [...]}`, one entry per
 * batch item, and columnar `{"inputs": ...}` → `{"outputs": ...}`, whole tensors. A one-input model
 * takes bare values; a multi-input model takes `{name: value}` objects. BYTES values are strings or
 * `{"b64": "..."}`. Shapes come from the nesting of the arrays; datatypes from the model's metadata.
 * Bodies are JSON text: a number JSON.parse read as ±Infinity (beyond the double range) is refused.
 */
import { VireoError } from '../../core/errors.js';
import type { InferRequest, InferResponse, ModelMetadata } from '../../core/inference.js';
import { jsonTextToTensorData, tensorDataToJson } from '../../core/json-tensors.js';
import { elementCount, type Tensor } from '../../core/tensor.js';
import { checkInputCount, TensorBytesBudget } from '../../core/request-limits.js';
import { nest, shapeOf } from './nested-arrays.js';

export type V1Format = 'row' | 'columnar';

const malformed = (message: string): never => {
  throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', message);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{"b64": "..."}` is a BYTES value, not a map of named inputs. */
const isB64 = (v: unknown): boolean => isObject(v) && typeof v.b64 === 'string' && Object.keys(v).length === 1;

/** The named values of one instance (row format) or of the whole `inputs` (columnar format). */
function namedValues(value: unknown, metadata: ModelMetadata, where: string): Record<string, unknown> {
  if (isObject(value) && !isB64(value)) return value;
  if (metadata.inputs.length !== 1) {
    return malformed(`${where}: model "${metadata.name}" has ${metadata.inputs.length} inputs, so ${where} must be an object keyed by input name (${metadata.inputs.map((i) => `"${i.name}"`).join(', ')})`);
  }
  return { [metadata.inputs[0]!.name]: value };
}

function tensorFrom(name: string, value: unknown, shape: number[], metadata: ModelMetadata, budget: TensorBytesBudget): Tensor {
  const spec = metadata.inputs.find((i) => i.name === name);
  if (!spec) {
    throw new VireoError('VIREO_ERR_INPUT_UNKNOWN', `unexpected input "${name}" for model "${metadata.name}" (expected ${metadata.inputs.map((i) => `"${i.name}"`).join(', ')})`);
  }
  const what = `input "${name}"`;
  const count = elementCount(shape, what);
  budget.admit(spec.datatype, count, what);
  return { name, datatype: spec.datatype, shape, data: jsonTextToTensorData(value, spec.datatype, count, what) };
}

function rowInputs(instances: unknown, metadata: ModelMetadata): Tensor[] {
  if (!Array.isArray(instances) || instances.length === 0) return malformed('"instances" must be a non-empty array');
  const columns = new Map<string, { values: unknown[]; itemShape: number[] }>();
  instances.forEach((instance, index) => {
    const named = namedValues(instance, metadata, `instances[${index}]`);
    if (index === 0) checkInputCount(Object.keys(named).length);
    if (index > 0 && Object.keys(named).length !== columns.size) {
      malformed(`instances[${index}] names ${Object.keys(named).length} inputs but instances[0] names ${columns.size}`);
    }
    for (const [name, value] of Object.entries(named)) {
      const itemShape = shapeOf(value, `instances[${index}].${name}`);
      const column = columns.get(name);
      if (!column) {
        if (index > 0) malformed(`instances[${index}] has input "${name}", which instances[0] does not`);
        columns.set(name, { values: [value], itemShape });
      } else {
        if (itemShape.join(',') !== column.itemShape.join(',')) {
          malformed(`instances[${index}].${name} has shape [${itemShape.join(',')}] but instances[0].${name} has [${column.itemShape.join(',')}]`);
        }
        column.values.push(value);
      }
    }
  });
  const budget = new TensorBytesBudget();
  return [...columns].map(([name, { values, itemShape }]) => tensorFrom(name, values, [values.length, ...itemShape], metadata, budget));
}

function columnarInputs(inputs: unknown, metadata: ModelMetadata): Tensor[] {
  const named = namedValues(inputs, metadata, '"inputs"');
  checkInputCount(Object.keys(named).length);
  const budget = new TensorBytesBudget();
  return Object.entries(named).map(([name, value]) => tensorFrom(name, value, shapeOf(value, `inputs.${name}`), metadata, budget));
}

/** Parses a predict body; `metadata` is the target model's (datatypes, input names). */
export function parsePredictBody(body: unknown, metadata: ModelMetadata, version: string | undefined): { request: InferRequest; format: V1Format } {
  if (!isObject(body)) return malformed('the request body must be a JSON object with "instances" or "inputs"');
  if (body.signature_name !== undefined && typeof body.signature_name !== 'string') malformed('"signature_name" must be a string');
  const hasRows = body.instances !== undefined;
  const hasColumns = body.inputs !== undefined;
  if (hasRows && hasColumns) malformed('the request has both "instances" (row format) and "inputs" (columnar format); send exactly one');
  if (!hasRows && !hasColumns) malformed('the request needs "instances" (row format) or "inputs" (columnar format)');
  // A Vireo model has one signature, TF Serving's default; another name is refused as TF Serving refuses
  // a signature the model does not have, rather than answered from the one there is.
  if (body.signature_name !== undefined && body.signature_name !== 'serving_default') {
    malformed(`serving signature name "${String(body.signature_name).slice(0, 200)}" not found: model "${metadata.name}" has only "serving_default"`);
  }
  const inputs = hasRows ? rowInputs(body.instances, metadata) : columnarInputs(body.inputs, metadata);
  return { request: { model: metadata.name, version, inputs }, format: hasRows ? 'row' : 'columnar' };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Flat JSON values of an output; BYTES as text when valid UTF-8 (and not named `*_bytes`), else b64. */
function flatValues(tensor: Tensor): unknown[] {
  if (tensor.datatype !== 'BYTES') return tensorDataToJson(tensor.data, tensor.datatype);
  const forceB64 = tensor.name.endsWith('_bytes');
  return (tensor.data as Uint8Array[]).map((element) => {
    if (!forceB64) {
      try {
        return utf8.decode(element);
      } catch {
        // not UTF-8: fall through to base64, as TF Serving does for binary strings
      }
    }
    return { b64: Buffer.from(element.buffer, element.byteOffset, element.byteLength).toString('base64') };
  });
}

/** The predict response body in the request's format. */
export function encodePredictResponse(response: InferResponse, format: V1Format): Record<string, unknown> {
  const outputs = response.outputs;
  const single = outputs.length === 1;
  if (format === 'columnar') {
    const nested = outputs.map((t) => nest(flatValues(t), t.shape));
    return { outputs: single ? nested[0] : Object.fromEntries(outputs.map((t, i) => [t.name, nested[i]])) };
  }
  const batch = outputs[0]?.shape[0] ?? 0;
  if (outputs.some((t) => t.shape.length === 0 || t.shape[0] !== batch)) {
    malformed('the model\'s outputs have no common batch dimension, so they cannot be returned as rows; use the columnar format ("inputs")');
  }
  const perItem = outputs.map((t) => {
    const values = flatValues(t);
    const itemShape = t.shape.slice(1);
    const stride = itemShape.reduce((p, d) => p * d, 1);
    return Array.from({ length: batch }, (_, i) => nest(values, itemShape, i * stride));
  });
  const predictions = Array.from({ length: batch }, (_, i) => (single
    ? perItem[0]![i]
    : Object.fromEntries(outputs.map((t, o) => [t.name, perItem[o]![i]]))));
  return { predictions };
}
