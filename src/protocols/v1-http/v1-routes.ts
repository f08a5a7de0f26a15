/**
 * V1 REST on the HTTP port: TF Serving's model status, metadata and predict APIs, which KServe's V1
 * protocol shares (`GET /`, `GET /v1/models`, `{"name","ready"}`). Errors are `{"error": "..."}`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataType } from '../../core/datatypes.js';
import { VireoError } from '../../core/errors.js';
import type { ModelIndexEntry, ModelState, TensorMetadata } from '../../core/inference.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { clientSignal, sendError, type HttpOptions } from '../http-common/http-server.js';
import { startHttpTrace } from '../http-common/http-trace.js';
import { jsonBody } from '../http-common/json-body.js';
import { encodePredictResponse, parsePredictBody } from './v1-codec.js';

type V1Request = FastifyRequest<{ Params: { model: string; version?: string } }>;

/** TF Serving's ModelVersionStatus.State for each Vireo model state. */
const TF_STATE: Record<ModelState, string> = {
  LOADING: 'LOADING',
  READY: 'AVAILABLE',
  UNLOADING: 'UNLOADING',
  // TF Serving reports a version that failed to load as END with a non-OK status.
  UNAVAILABLE: 'END',
};

/** TF's DataType enum names, for the signature in GET .../metadata. */
const TF_DTYPE: Record<DataType, string> = {
  BOOL: 'DT_BOOL', UINT8: 'DT_UINT8', UINT16: 'DT_UINT16', UINT32: 'DT_UINT32', UINT64: 'DT_UINT64',
  INT8: 'DT_INT8', INT16: 'DT_INT16', INT32: 'DT_INT32', INT64: 'DT_INT64',
  FP16: 'DT_HALF', BF16: 'DT_BFLOAT16', FP32: 'DT_FLOAT', FP64: 'DT_DOUBLE', BYTES: 'DT_STRING',
};

function versionEntries(server: InferenceServer, model: string, version?: string): ModelIndexEntry[] {
  const entries = server.repositoryIndex().filter((e) => e.name === model);
  if (entries.length === 0) throw new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `unknown model "${model}"`);
  if (version === undefined) return entries;
  const match = entries.filter((e) => e.version === version);
  if (match.length === 0) {
    throw new VireoError('VIREO_ERR_VERSION_NOT_FOUND', `model "${model}" has no version "${version}" (served: ${entries.map((e) => e.version).filter(Boolean).join(', ') || 'none'})`);
  }
  return match;
}

function modelStatus(server: InferenceServer, model: string, version?: string): { ready: boolean; body: Record<string, unknown> } {
  const entries = versionEntries(server, model, version);
  const ready = server.modelReady(model, version);
  const model_version_status = entries.map((e) => ({
    version: e.version ?? '',
    state: TF_STATE[e.state ?? 'UNAVAILABLE'],
    status: e.state === 'UNAVAILABLE'
      ? { error_code: 'UNKNOWN', error_message: e.reason ?? '' }
      : { error_code: 'OK', error_message: '' },
  }));
  return { ready, body: { name: model, ready, model_version_status } };
}

function signature(tensors: TensorMetadata[]): Record<string, unknown> {
  return Object.fromEntries(tensors.map((t) => [t.name, {
    dtype: TF_DTYPE[t.datatype],
    tensor_shape: { dim: t.shape.map((d) => ({ size: String(d), name: '' })), unknown_rank: false },
    name: t.name,
  }]));
}

function modelMetadataBody(server: InferenceServer, model: string, version?: string): Record<string, unknown> {
  const metadata = server.modelMetadata(model, version);
  return {
    model_spec: { name: model, signature_name: '', version: version ?? metadata.versions.at(-1) ?? '' },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: { inputs: signature(metadata.inputs), outputs: signature(metadata.outputs), method_name: 'tensorflow/serving/predict' },
        },
      },
    },
  };
}

/** Both the unversioned path and the one with `/versions/:version` after the model name. */
function both(app: FastifyInstance, method: 'GET' | 'POST', suffix: string, handler: (request: V1Request, reply: FastifyReply) => unknown): void {
  app.route({ method, url: `/v1/models/:model${suffix}`, handler });
  app.route({ method, url: `/v1/models/:model/versions/:version${suffix}`, handler });
}

export function v1Routes(app: FastifyInstance, { server }: HttpOptions): void {
  app.get('/', async () => ({ status: 'alive' }));
  app.get('/v1/models', async () => ({ models: [...new Set(server.repositoryIndex().map((e) => e.name))] }));

  both(app, 'GET', '', async (request, reply) => {
    try {
      const { ready, body } = modelStatus(server, request.params.model, request.params.version);
      return reply.code(ready ? 200 : 503).send(body);
    } catch (error) {
      return sendError(reply, error);
    }
  });

  both(app, 'GET', '/metadata', async (request, reply) => {
    try {
      return modelMetadataBody(server, request.params.model, request.params.version);
    } catch (error) {
      return sendError(reply, error);
    }
  });

  // `::` is find-my-way's escape for a literal colon; the regex ends the parameter at the colon
  // (a plain `:model::predict` would swallow ":predict" into the parameter's name).
  const tracer = server.tracer;
  const predict = async (request: V1Request, reply: FastifyReply) => {
    const trace = startHttpTrace(tracer, request, request.params.model, request.params.version);
    try {
      if (request.body === undefined) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'the request has no body (expected {"instances": [...]} or {"inputs": ...})');
      const { model, version } = request.params;
      const { request: inferRequest, format } = parsePredictBody(jsonBody(request.body, request.server.jsonLimits), server.modelMetadata(model, version), version);
      inferRequest.signal = clientSignal(reply);
      inferRequest.trace = trace;
      const response = await server.infer(inferRequest);
      if (trace === undefined) return reply.send(encodePredictResponse(response, format));
      trace.encoding();
      reply.send(encodePredictResponse(response, format));
      trace.end();
      return reply;
    } catch (error) {
      trace?.end(error);
      return sendError(reply, error);
    }
  };
  app.post('/v1/models/:model(^[^/:]+)::predict', predict);
  app.post('/v1/models/:model/versions/:version(^[^/:]+)::predict', predict);
}

