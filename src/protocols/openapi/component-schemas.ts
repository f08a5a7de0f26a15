/**
 * The JSON schemas of Vireo's REST bodies, as OpenAPI components. The OIP ones carry the names
 * open_inference_rest.yaml gives them (test/e2e/openapi.test.ts checks names, required fields and
 * types against that file); the Triton extensions and V1 follow their own documents. They
 * describe the wire for /openapi.json only: routes keep their own parsing and validation.
 */
type Schema = Record<string, unknown>;

const ref = (id: string): Schema => ({ $ref: `${id}#` });
const string = { type: 'string' };
const integer = { type: 'integer' };
const boolean = { type: 'boolean' };
const strings = { type: 'array', items: string };
const errorBody = (title: string, description: string): Schema => ({
  title, description, type: 'object', properties: { error: string }, required: ['error'],
});

const oip: Schema[] = [
  { $id: 'metadata_server_response', type: 'object', properties: { name: string, version: string, extensions: strings }, required: ['name', 'version', 'extensions'] },
  { $id: 'metadata_server_error_response', ...errorBody('metadata_server_error_response', 'Why the server metadata could not be given.') },
  {
    $id: 'metadata_tensor', type: 'object',
    properties: { name: string, datatype: string, shape: { type: 'array', items: integer, description: '-1 marks a variable dimension' }, parameters: ref('parameters') },
    required: ['name', 'datatype', 'shape'],
  },
  {
    $id: 'metadata_model_response', type: 'object',
    properties: {
      name: string, versions: strings, platform: string,
      inputs: { type: 'array', items: ref('metadata_tensor') }, outputs: { type: 'array', items: ref('metadata_tensor') },
      properties: { type: 'object', additionalProperties: string },
    },
    required: ['name', 'platform'],
  },
  { $id: 'metadata_model_error_response', ...errorBody('metadata_model_error_response', 'Unknown model or version, or a model that is not ready.') },
  { $id: 'parameters', type: 'object', description: 'Free-form parameters; Vireo reads e.g. binary_data_output, priority, timeout, classification.', additionalProperties: true },
  {
    $id: 'tensor_data', type: 'array', description: 'Row-major tensor elements, flat or nested.',
    items: { anyOf: [ref('tensor_data'), { type: 'number' }, string, boolean] },
  },
  {
    $id: 'request_input', type: 'object',
    properties: { name: string, shape: { type: 'array', items: integer }, datatype: string, parameters: ref('parameters'), data: ref('tensor_data') },
    required: ['name', 'shape', 'datatype', 'data'],
  },
  { $id: 'request_output', type: 'object', properties: { name: string, parameters: ref('parameters') }, required: ['name'] },
  {
    $id: 'inference_request', type: 'object',
    properties: { id: string, parameters: ref('parameters'), inputs: { type: 'array', items: ref('request_input') }, outputs: { type: 'array', items: ref('request_output') } },
    required: ['inputs'],
  },
  {
    $id: 'response_output', type: 'object',
    properties: { name: string, shape: { type: 'array', items: integer }, datatype: string, parameters: ref('parameters'), data: ref('tensor_data') },
    required: ['name', 'shape', 'datatype', 'data'],
  },
  {
    $id: 'inference_response', type: 'object',
    properties: { model_name: string, model_version: string, id: string, parameters: ref('parameters'), outputs: { type: 'array', items: ref('response_output') } },
    required: ['model_name', 'outputs'],
  },
  { $id: 'inference_error_response', ...errorBody('inference_error_response', 'Why the request was refused or failed.') },
];

const duration = { type: 'object', properties: { count: integer, ns: integer }, required: ['count', 'ns'] };

const extensions: Schema[] = [
  { $id: 'error_response', ...errorBody('error_response', 'Every Vireo error answer: the reason in one sentence.') },
  { $id: 'live_response', type: 'object', properties: { live: boolean }, required: ['live'] },
  { $id: 'ready_response', type: 'object', properties: { ready: boolean }, required: ['ready'] },
  { $id: 'model_ready_response', type: 'object', properties: { name: string, ready: boolean }, required: ['name', 'ready'] },
  {
    $id: 'model_config', type: 'object', additionalProperties: true,
    description: "Triton's model configuration as JSON (model_config.proto field names): name, platform/backend, max_batch_size, input, output, instance_group, dynamic_batching, …",
    properties: { name: string, platform: string, backend: string, max_batch_size: integer, input: { type: 'array', items: { type: 'object' } }, output: { type: 'array', items: { type: 'object' } } },
  },
  {
    $id: 'model_statistics', type: 'object', description: "Triton's statistics extension: cumulative counts and durations per model version.",
    properties: {
      name: string, version: string, last_inference: integer, inference_count: integer, execution_count: integer,
      inference_stats: {
        type: 'object',
        properties: Object.fromEntries(['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss'].map((k) => [k, duration])),
      },
      batch_stats: {
        type: 'array',
        items: { type: 'object', properties: { batch_size: integer, compute_input: duration, compute_infer: duration, compute_output: duration } },
      },
      memory_usage: { type: 'array', items: { type: 'object' } },
    },
    required: ['name', 'version', 'inference_count', 'execution_count', 'inference_stats', 'batch_stats'],
  },
  { $id: 'model_statistics_response', type: 'object', properties: { model_stats: { type: 'array', items: ref('model_statistics') } }, required: ['model_stats'] },
  {
    $id: 'repository_index_request', type: 'object', additionalProperties: false,
    properties: { repository_name: string, ready: { ...boolean, description: 'only models that are ready' } },
  },
  {
    $id: 'repository_index_response', type: 'array',
    items: {
      type: 'object',
      properties: { name: string, version: string, state: { type: 'string', enum: ['READY', 'LOADING', 'UNLOADING', 'UNAVAILABLE'] }, reason: string, memory_bytes: integer },
      required: ['name', 'state', 'reason'],
    },
  },
  {
    $id: 'repository_load_request', type: 'object', additionalProperties: false,
    properties: {
      parameters: {
        type: 'object',
        description: '"config": a model configuration (JSON string or object) replacing the file; "file:<version>/<name>": base64 file content written into the model directory.',
        additionalProperties: true,
      },
    },
  },
  {
    $id: 'repository_unload_request', type: 'object', additionalProperties: false,
    properties: { parameters: { type: 'object', properties: { unload_dependents: boolean }, additionalProperties: false } },
  },
  {
    $id: 'log_settings', type: 'object', description: "Triton's logging extension.",
    properties: { log_file: string, log_info: boolean, log_warning: boolean, log_error: boolean, log_verbose_level: integer, log_format: { type: 'string', enum: ['default', 'ISO8601'] } },
  },
  {
    $id: 'trace_settings', type: 'object', description: "Triton's trace extension: every value a string or a list of strings.",
    additionalProperties: { anyOf: [string, strings] },
    properties: { trace_level: strings, trace_rate: string, trace_count: string, log_frequency: string, trace_file: string, trace_mode: string },
  },
];

const v1: Schema[] = [
  { $id: 'v1_models_response', type: 'object', properties: { models: strings }, required: ['models'] },
  {
    $id: 'v1_model_status', type: 'object', description: "TF Serving's model status (KServe V1: name and ready).",
    properties: {
      name: string, ready: boolean,
      model_version_status: {
        type: 'array',
        items: {
          type: 'object',
          properties: { version: string, state: string, status: { type: 'object', properties: { error_code: string, error_message: string } } },
        },
      },
    },
    required: ['name', 'ready'],
  },
  { $id: 'v1_model_metadata', type: 'object', description: "TF Serving's signature metadata.", properties: { model_spec: { type: 'object' }, metadata: { type: 'object' } } },
  {
    $id: 'v1_predict_request', type: 'object', description: 'Row format ("instances") or columnar format ("inputs").',
    properties: { signature_name: string, instances: { type: 'array' }, inputs: {} },
  },
  {
    $id: 'v1_predict_response', type: 'object', description: '"predictions" for row requests, "outputs" for columnar ones.',
    properties: { predictions: { type: 'array' }, outputs: {} },
  },
];

/** Every component, each with its `$id` (fastify's shared-schema form, which @fastify/swagger turns into components). */
export const COMPONENT_SCHEMAS: Schema[] = [...oip, ...extensions, ...v1];
