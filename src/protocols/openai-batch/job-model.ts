/**
 * The model a batch job names: whether a job may be created for it, and, on a server that loads models
 * on demand (`--model-memory-budget`), loading it before the job reads its lines.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { VireoError, type ErrorCode } from '../../core/errors.js';
import type { InferenceServer } from '../../server/inference-server.js';

/** Refusals of an on-demand load that pass (a budget full of busy models, a load racing an eviction). */
const TRANSIENT_LOAD: ReadonlySet<ErrorCode> = new Set(['VIREO_ERR_MODEL_NOT_READY', 'VIREO_ERR_MEMORY_BUDGET_EXHAUSTED']);

/**
 * A batch may only name a model the repository has loaded (or is loading), or, on a server that loads
 * models on demand, one it has on disk: the job loads it when it runs (loadJobModel).
 */
export async function checkJobModel(server: InferenceServer, model: string): Promise<void> {
  if (server.hasModel(model)) return;
  const name = model.slice(0, 200);
  const onDisk = () => server.repositoryIndex().some((entry) => entry.name === model);
  if (server.loadsOnDemand) {
    // A real-time request finds a model added since the last scan: so does a batch.
    if (!onDisk()) await server.refreshRepositoryIndex();
    if (onDisk()) return;
  } else if (onDisk()) {
    // A model on disk that explicit model control has not loaded would fail every request of the job:
    // the job is refused, saying why.
    throw new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `model "${name}" is in the repository but not loaded; load it first (POST /v2/repository/models/${name}/load)`);
  }
  throw new VireoError('VIREO_ERR_MODEL_NOT_FOUND', `unknown model "${name}"`);
}

/**
 * On a server that loads models on demand, the job's model is loaded before its lines are read (they
 * are read by its configuration: rows per batch, dataframe columns), as a real-time request to it would
 * load it. A refusal that passes is retried for up to `retryMs`; any other fails the job. `signal`
 * (the runner's stop) ends the wait with an AbortError, which a closing runner takes as an interruption.
 */
export async function loadJobModel(server: InferenceServer, model: string, retryMs: number, signal: AbortSignal): Promise<void> {
  if (!server.loadsOnDemand) return;
  const since = Date.now();
  for (let pause = 50; ; pause = Math.min(pause * 2, 2000)) {
    try {
      return await server.loadOnDemand(model);
    } catch (thrown) {
      const error = VireoError.from(thrown);
      if (!TRANSIENT_LOAD.has(error.code) || Date.now() + pause - since > retryMs) {
        throw new VireoError(error.code, `model "${model.slice(0, 200)}" could not be loaded: ${error.message}`, { cause: error });
      }
      await sleep(pause, undefined, { signal });
    }
  }
}
