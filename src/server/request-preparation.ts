/**
 * The inference path's two ends inside the facade: before a request is queued (resolve the serving
 * version, load it on demand, decode codec inputs, validate) and after it is answered (outputs back to
 * the dims the model promised, codec outputs encoded). The scheduler runs what lies between.
 */
import { VireoError } from '../core/errors.js';
import type { InferRequest, InferResponse } from '../core/inference.js';
import type { Tensor } from '../core/tensor.js';
import type { ModelConfig } from '../repository/model-config.js';
import type { ModelRepository } from '../repository/model-repository.js';
import { validateRequest } from './request-validation.js';

export type ReadyVersion = ReturnType<ModelRepository['resolve']>;
export interface PreparedRequest { mv: ReadyVersion; validated: ReturnType<typeof validateRequest> }

/** Resolves the version, decodes codec inputs and validates: everything before the request is queued. */
export async function prepareRequest(repository: ModelRepository, request: InferRequest): Promise<PreparedRequest> {
  repository.touch(request.model);
  // With a memory budget a model may be unloaded: the first request waits for its load. An
  // eviction can race the resolve, so a not-ready answer is retried a few times.
  for (let attempt = 0; repository.loadsOnDemand && attempt < 3; attempt++) {
    await repository.ensureLoaded(request.model);
    try {
      repository.resolve(request.model, request.version);
      break;
    } catch (error) {
      if (VireoError.from(error).code !== 'VIREO_ERR_MODEL_NOT_READY') break;
    }
  }
  let mv = repository.resolve(request.model, request.version);
  let validated: ReturnType<typeof validateRequest>;
  try {
    // Encoded images and texts become tensors before validation, so the model's own dims are checked.
    let decoded = mv.codecs ? await mv.codecs.decodeInputs(request) : request;
    // Decoding awaited: a hot reload may have swapped versions meanwhile. The request goes to the
    // version serving now (resolve to enqueue is synchronous), so it never meets a retired one.
    for (let now = repository.resolve(request.model, request.version); now !== mv; now = repository.resolve(request.model, request.version)) {
      mv = now;
      decoded = mv.codecs ? await mv.codecs.decodeInputs(request) : request;
    }
    validated = validateRequest(decoded, mv.config);
  } catch (error) {
    // Counted against the version it was sent to, as the scheduler counts its own refusals.
    mv.recorder.request('failure', 0, 0, undefined, VireoError.from(error).code);
    throw error;
  }
  request.trace?.queued();
  return { mv, validated };
}

/** The response to `request` from the version that answered it. */
export function buildResponse(request: InferRequest, mv: ReadyVersion, outputs: Tensor[]): InferResponse {
  const shaped = restoreShapes(outputs, mv.config);
  return { model: request.model, version: mv.version, id: request.id, outputs: mv.codecs ? mv.codecs.encodeOutputs(shaped, request.outputs) : shaped };
}

/** Outputs configured with a reshape go back to the dims clients were promised. */
function restoreShapes(outputs: Tensor[], config: ModelConfig): Tensor[] {
  if (!config.output.some((o) => o.reshape)) return outputs;
  return outputs.map((t) => {
    const spec = config.output.find((o) => o.name === t.name);
    if (!spec?.reshape) return t;
    return { ...t, shape: config.max_batch_size > 0 ? [t.shape[0]!, ...spec.dims] : [...spec.dims] };
  });
}
