/**
 * What /openapi.json says about each REST route, keyed by `METHOD url` as the route files declare
 * them. @fastify/swagger's transform looks routes up here, so documenting a route changes nothing
 * about how it parses or serialises (no fastify validation or response serializer is attached).
 * test/e2e/openapi.test.ts fails when a route is missing from this table.
 */
type Schema = Record<string, unknown>;

export interface RouteDoc {
  summary: string;
  tags: string[];
  body?: Schema;
  /** Status code → body schema (null: no body). */
  response: Record<string, Schema | null>;
  /** Request bodies the route takes besides JSON: content type → schema. */
  otherBodies?: Record<string, Schema>;
  /** The body may be left out (the repository API's load and unload). */
  bodyOptional?: boolean;
}

const ref = (id: string): Schema => ({ $ref: `${id}#` });
const error = ref('error_response');
const jsonOrError = (ok: Schema, ...codes: string[]) => ({ 200: ok, ...Object.fromEntries(codes.map((c) => [c, error])) });

const OIP = ['Open Inference Protocol'];
const TRITON = ['Triton extensions'];
const REPOSITORY = ['Model repository (control)'];
const V1 = ['V1 (TF Serving / KServe V1)'];
const SHM = ['Triton shared memory (control)'];
const BATCH = ['Batch jobs (OpenAI Files and Batches APIs, with --batch-dir)'];
const OBJECT: Schema = { type: 'object' };
const ARRAY: Schema = { type: 'array', items: { type: 'object' } };

/** The OIP model routes exist unversioned and with `/versions/:version` after the model name. */
function modelRoutes(method: string, suffix: string, doc: RouteDoc): [string, RouteDoc][] {
  return [[`${method} /v2/models/:model${suffix}`, doc], [`${method} /v2/models/:model/versions/:version${suffix}`, doc]];
}

function v1ModelRoutes(suffix: string, doc: RouteDoc): [string, RouteDoc][] {
  return [[`GET /v1/models/:model${suffix}`, doc], [`GET /v1/models/:model/versions/:version${suffix}`, doc]];
}

export const ROUTE_DOCS: ReadonlyMap<string, RouteDoc> = new Map<string, RouteDoc>([
  ['GET /v2', { summary: 'Server metadata', tags: OIP, response: { 200: ref('metadata_server_response'), 400: ref('metadata_server_error_response') } }],
  ['GET /v2/health/live', { summary: 'Server liveness', tags: OIP, response: { 200: ref('live_response'), 503: ref('live_response') } }],
  ['GET /v2/health/ready', { summary: 'Server readiness', tags: OIP, response: { 200: ref('ready_response'), 503: ref('ready_response') } }],
  ...modelRoutes('GET', '', { summary: 'Model metadata', tags: OIP, response: { 200: ref('metadata_model_response'), 400: ref('metadata_model_error_response'), 404: ref('metadata_model_error_response') } }),
  ...modelRoutes('GET', '/ready', { summary: 'Model readiness', tags: OIP, response: { 200: ref('model_ready_response'), 503: ref('model_ready_response'), 404: error } }),
  ...modelRoutes('POST', '/infer', {
    summary: 'Inference (JSON, binary tensor extension, image upload or dataframe body)',
    tags: OIP,
    body: ref('inference_request'),
    otherBodies: {
      'application/octet-stream': { type: 'string', format: 'binary', description: 'Binary tensor data extension: Inference-Header-Content-Length bytes of JSON, then the raw tensors; or a bare upload for the one BYTES input.' },
      'multipart/form-data': { type: 'object', additionalProperties: { type: 'string', format: 'binary' }, description: 'An upload: one file or text field per BYTES/image input, named after it. Answered as plain JSON.' },
      'image/*': { type: 'string', format: 'binary', description: 'A bare image body for the one image input. Answered as plain JSON.' },
      'text/csv': { type: 'string', description: 'A dataframe (header row of column names) for models whose inputs name columns. Answered as plain JSON.' },
      'application/vnd.apache.arrow.stream': { type: 'string', format: 'binary', description: 'A dataframe as Arrow IPC.' },
    },
    response: { 200: ref('inference_response'), 400: ref('inference_error_response'), 404: ref('inference_error_response'), 429: ref('inference_error_response'), 503: ref('inference_error_response') },
  }),
  ...modelRoutes('GET', '/config', { summary: 'Model configuration (Triton model_configuration extension)', tags: TRITON, response: jsonOrError(ref('model_config'), '404') }),
  ['GET /v2/models/stats', { summary: 'Statistics of every ready model (Triton statistics extension)', tags: TRITON, response: jsonOrError(ref('model_statistics_response')) }],
  ...modelRoutes('GET', '/stats', { summary: 'Model statistics (Triton statistics extension)', tags: TRITON, response: jsonOrError(ref('model_statistics_response'), '404') }),
  ['GET /v2/trace/setting', { summary: 'Global trace settings (Triton trace extension)', tags: TRITON, response: jsonOrError(ref('trace_settings')) }],
  ['POST /v2/trace/setting', { summary: 'Change global trace settings (control: loopback unless --allow-remote-control)', tags: TRITON, body: ref('trace_settings'), response: jsonOrError(ref('trace_settings'), '400', '403') }],
  ['GET /v2/models/:model/trace/setting', { summary: 'Trace settings of a model', tags: TRITON, response: jsonOrError(ref('trace_settings'), '404') }],
  ['POST /v2/models/:model/trace/setting', { summary: 'Change the trace settings of a model (control)', tags: TRITON, body: ref('trace_settings'), response: jsonOrError(ref('trace_settings'), '400', '403', '404') }],
  ['GET /v2/logging', { summary: 'Log settings (Triton logging extension)', tags: TRITON, response: jsonOrError(ref('log_settings')) }],
  ['POST /v2/logging', { summary: 'Change log settings (control)', tags: TRITON, body: ref('log_settings'), response: jsonOrError(ref('log_settings'), '400', '403') }],
  ['POST /v2/repository/index', { summary: 'Repository index (poll or explicit control mode only)', tags: REPOSITORY, body: ref('repository_index_request'), bodyOptional: true, response: jsonOrError(ref('repository_index_response'), '400', '403') }],
  ['POST /v2/repository/models/:model/load', { summary: 'Load or reload a model (control)', tags: REPOSITORY, body: ref('repository_load_request'), bodyOptional: true, response: { 200: null, 400: error, 403: error, 404: error } }],
  ['POST /v2/repository/models/:model/unload', { summary: 'Unload a model (control)', tags: REPOSITORY, body: ref('repository_unload_request'), bodyOptional: true, response: { 200: null, 400: error, 403: error } }],
  ['GET /', { summary: 'Liveness (KServe V1)', tags: V1, response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } }],
  ['GET /v1/models', { summary: 'Model names (KServe V1)', tags: V1, response: { 200: ref('v1_models_response') } }],
  ...v1ModelRoutes('', { summary: 'Model status (TF Serving / KServe V1)', tags: V1, response: { 200: ref('v1_model_status'), 503: ref('v1_model_status'), 404: error } }),
  ...v1ModelRoutes('/metadata', { summary: 'Model signature (TF Serving)', tags: V1, response: jsonOrError(ref('v1_model_metadata'), '404') }),
  // find-my-way's `::` escapes the literal colon of `:predict`; the regex ends the name parameter.
  ['POST /v1/models/:model(^[^/:]+)::predict', { summary: 'Predict (TF Serving / KServe V1)', tags: V1, body: ref('v1_predict_request'), response: jsonOrError(ref('v1_predict_response'), '400', '404') }],
  ['POST /v1/models/:model/versions/:version(^[^/:]+)::predict', { summary: 'Predict a version (TF Serving / KServe V1)', tags: V1, body: ref('v1_predict_request'), response: jsonOrError(ref('v1_predict_response'), '400', '404') }],
  ['GET /v2/', { summary: 'Server metadata (the trailing-slash form OIP writes)', tags: OIP, response: { 200: ref('metadata_server_response') } }],
  ...modelRoutes('POST', '/generate', { summary: 'Generate (Triton generate extension): a JSON object of inputs by name, one JSON object out', tags: TRITON, body: OBJECT, response: jsonOrError(OBJECT, '400', '404') }),
  ...modelRoutes('POST', '/generate_stream', { summary: 'Generate as Server-Sent Events, one event per response of a decoupled model', tags: TRITON, body: OBJECT, response: { 200: { type: 'string', description: 'text/event-stream' }, 400: error, 404: error } }),
  ['GET /v2/systemsharedmemory/status', { summary: 'Registered system shared-memory regions (control; --allow-shared-memory)', tags: SHM, response: jsonOrError(ARRAY, '403') }],
  ['GET /v2/systemsharedmemory/region/:region/status', { summary: 'One registered region (control)', tags: SHM, response: jsonOrError(ARRAY, '403', '404') }],
  ['POST /v2/systemsharedmemory/region/:region/register', { summary: 'Register a /dev/shm region: {key, offset, byte_size} (control)', tags: SHM, body: OBJECT, response: { 200: null, 400: error, 403: error } }],
  ['POST /v2/systemsharedmemory/region/:region/unregister', { summary: 'Unregister a region (control)', tags: SHM, response: { 200: null, 403: error, 404: error } }],
  ['POST /v2/systemsharedmemory/unregister', { summary: 'Unregister every region (control)', tags: SHM, response: { 200: null, 403: error } }],
  ['GET /v2/cudasharedmemory/status', { summary: 'CUDA shared memory: no region (this server has no GPUs; control)', tags: SHM, response: jsonOrError(ARRAY, '403') }],
  ['GET /v2/cudasharedmemory/region/:region/status', { summary: 'CUDA shared memory: no region is ever found (control)', tags: SHM, response: { 403: error, 404: error } }],
  ['POST /v2/cudasharedmemory/region/:region/register', { summary: 'CUDA shared memory: refused, GPUs not supported (control)', tags: SHM, response: { 400: error, 403: error } }],
  ['POST /v2/cudasharedmemory/region/:region/unregister', { summary: 'CUDA shared memory: nothing to unregister (control)', tags: SHM, response: { 200: null, 403: error } }],
  ['POST /v2/cudasharedmemory/unregister', { summary: 'CUDA shared memory: nothing to unregister (control)', tags: SHM, response: { 200: null, 403: error } }],
  ['POST /v1/files', { summary: 'Upload a batch input file (multipart: file, purpose=batch; OpenAI Files API; control)', tags: BATCH, otherBodies: { 'multipart/form-data': { type: 'object', properties: { file: { type: 'string', format: 'binary' }, purpose: { type: 'string', enum: ['batch'] } } } }, response: jsonOrError(OBJECT, '400', '401', '403', '413') }],
  ['GET /v1/files', { summary: 'Files, newest first (after, limit)', tags: BATCH, response: jsonOrError(OBJECT, '401', '403') }],
  ['GET /v1/files/:id', { summary: 'A file object', tags: BATCH, response: jsonOrError(OBJECT, '404') }],
  ['GET /v1/files/:id/content', { summary: 'A file\'s content (JSON lines)', tags: BATCH, response: { 200: { type: 'string', description: 'application/jsonl' }, 404: error } }],
  ['DELETE /v1/files/:id', { summary: 'Delete a file (not the input of an unfinished batch)', tags: BATCH, response: jsonOrError(OBJECT, '400', '404') }],
  ['POST /v1/batches', { summary: 'Create a batch: {input_file_id, endpoint (a Vireo infer path), completion_window, metadata} (OpenAI Batches API; control)', tags: BATCH, body: OBJECT, response: jsonOrError(OBJECT, '400', '401', '403', '404', '429') }],
  ['GET /v1/batches', { summary: 'Batches, newest first (after, limit)', tags: BATCH, response: jsonOrError(OBJECT, '401', '403') }],
  ['GET /v1/batches/:id', { summary: 'A batch object: status, request_counts, output and error file ids', tags: BATCH, response: jsonOrError(OBJECT, '404') }],
  ['POST /v1/batches/:id/cancel', { summary: 'Cancel a batch at its next part', tags: BATCH, response: jsonOrError(OBJECT, '400', '404') }],
]);
