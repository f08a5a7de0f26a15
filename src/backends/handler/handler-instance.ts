/**
 * The `typescript` backend, running inside an instance worker: loads a handler module from the
 * model repository (`<version>/model.ts|js`) and runs its `execute` on whole batches of requests.
 * An error thrown by handler code fails the batch it was given with its message (the stack goes
 * to the log) and leaves the instance serving; anything that kills the worker is handled by the
 * host (restart).
 */
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ERROR_CODES, VireoError, type ErrorCode } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import type { ExecuteContext, InstanceHost, InstanceImplementation, InstanceOptions, LogFn, ModelSignature } from '../backend.js';
import type { HandlerContext, HandlerModule, HandlerResponse, TensorLike } from './handler-api.js';
import { streamExecutor } from './handler-stream.js';
import { concatOutputs, splitBatch, toTensor } from './handler-tensors.js';

/**
 * A model.mjs (what `vireo build` compiles handlers to) is an ES module node imports itself, so an image
 * needs no compiler. model.ts and model.js arrive compiled the same way by the host (handler-bundle.ts):
 * TypeScript runs without a build step, a model.js written as an ES module loads as one whatever
 * package.json the repository has, and this worker needs no loader thread. Where the host has no
 * compiler they load through tsx's scoped loader.
 */
async function importModule(path: string, compiled: string | undefined): Promise<unknown> {
  if (compiled !== undefined) {
    // Stack traces from handler code name its own files and lines (the bundle carries a source map).
    process.setSourceMapsEnabled(true);
    return import(compiled);
  }
  if (path.endsWith('.mjs')) return import(pathToFileURL(path).href);
  let tsx: typeof import('tsx/esm/api');
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `${path}: this installation has no TypeScript loader (tsx); compile the handler with vireo build (it writes model.mjs)`);
  }
  return tsx.tsImport(pathToFileURL(path).href, import.meta.url);
}

function describe(error: unknown): { message: string; stack: string } {
  if (error instanceof Error) return { message: error.message, stack: error.stack ?? error.message };
  return { message: String(error), stack: String(error) };
}

/** The exported signature gives per-item dims, like the configuration; a batching model gets -1 first. */
function checkSignature(value: unknown, path: string, batched: boolean): ModelSignature {
  const fail = (why: string): never => {
    throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `${path}: exported signature ${why}`);
  };
  const sig = value as HandlerModule['signature'];
  if (!sig || !Array.isArray(sig.inputs) || !Array.isArray(sig.outputs)) fail('must have inputs and outputs arrays');
  const tensors = (list: NonNullable<HandlerModule['signature']>['inputs']) => list.map((t) => {
    if (typeof t?.name !== 'string' || typeof t.datatype !== 'string' || !Array.isArray(t.dims)) fail('entries need name, datatype and dims');
    return { name: t.name, datatype: t.datatype, rawType: t.datatype, dims: batched ? [-1, ...t.dims] : [...t.dims] };
  });
  return { inputs: tensors(sig!.inputs), outputs: tensors(sig!.outputs) };
}

function loadFailed(path: string, error: unknown, log: LogFn): never {
  if (error instanceof VireoError) throw error;
  const { message, stack } = describe(error);
  log('error', `${path} failed to load: ${stack}`);
  throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `${path} failed to load: ${message}`);
}

export async function createInstance(options: InstanceOptions, log: LogFn, host: InstanceHost): Promise<InstanceImplementation> {
  const handler = options.handler;
  if (!handler) throw new VireoError('VIREO_ERR_INTERNAL', 'the typescript backend needs handler options');
  const path = options.modelPath;
  let module: HandlerModule;
  try {
    module = (await importModule(path, handler.compiled)) as HandlerModule;
  } catch (error) {
    return loadFailed(path, error, log);
  }
  const decoupled = (handler.config.model_transaction_policy as { decoupled?: boolean } | undefined)?.decoupled === true;
  if (decoupled && typeof module.stream !== 'function') throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `${path} is decoupled (model_transaction_policy) but does not export a stream(request, context) function`);
  if (!decoupled && typeof module.execute !== 'function') throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `${path} does not export an execute(requests) function`);
  const batched = ((handler.config.max_batch_size as number | undefined) ?? 0) > 0;
  const signature = module.signature !== undefined ? checkSignature(module.signature, path, batched) : handler.declared;
  if (!signature) {
    throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `${path}: declare input and output in the model configuration, or export a signature from the module`);
  }
  const declaredType = (name: string) => signature.outputs.find((o) => o.name === name)?.datatype;

  const context: HandlerContext = {
    modelName: handler.modelName,
    version: handler.version,
    config: handler.config,
    versionDir: dirname(path),
    modelDir: dirname(dirname(path)),
    logger: {
      info: (m) => log('info', m),
      warn: (m) => log('warn', m),
      error: (m) => log('error', m),
    },
    async infer(model, inputs, options) {
      const opts = options ?? {};
      // A malformed input is a bad request to that model (400 / INVALID_ARGUMENT naming it), as from a client.
      if (typeof model !== 'string') throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `a call to another model needs the model's name as a string, got ${typeof model}`);
      if (!inputs || typeof inputs !== 'object' || Array.isArray(inputs)) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `the inputs for model "${model}" must be an object of tensors by name`);
      if (opts.outputs !== undefined && !(Array.isArray(opts.outputs) && opts.outputs.every((o) => typeof o === 'string'))) {
        throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `the outputs wanted from model "${model}" must be an array of names`);
      }
      const tensors = Object.entries(inputs).map(([name, value]) => toTensor(name, value as TensorLike, undefined, (n) => [n], `input "${name}" for model "${model}"`, 'call-input'));
      const outputs = await host.callModel({ model, version: opts.version, inputs: tensors, outputs: opts.outputs, parameters: opts.parameters });
      return Object.fromEntries(outputs.map((t) => [t.name, t]));
    },
  };
  try {
    await module.initialize?.(context);
  } catch (error) {
    return loadFailed(path, error, log);
  }

  return {
    signature,
    ...(decoupled ? { executeStream: streamExecutor(module, signature, batched, log) } : {}),
    async execute(inputs: Tensor[], outputs: readonly string[], ctx?: ExecuteContext): Promise<Tensor[]> {
      const items = ctx?.items ?? [batched ? inputs[0]?.shape[0] ?? 1 : 1];
      const split = splitBatch(inputs, items, batched);
      const requests = split.map((own, i) => ({ inputs: own, requestedOutputs: [...outputs], parameters: { ...(ctx?.parameters?.[i] ?? {}) } }));
      let responses: HandlerResponse[];
      try {
        if (!module.execute) throw new VireoError('VIREO_ERR_MODEL_DECOUPLED', 'this model is decoupled: it answers through streams only');
        responses = await module.execute(requests);
      } catch (error) {
        const { message, stack } = describe(error);
        // Handlers reject bad client input by throwing an error with a Vireo code (e.g. VIREO_ERR_INPUT_DATA → 400).
        const code = (error as { code?: unknown })?.code;
        if (typeof code === 'string' && code in ERROR_CODES && code !== 'VIREO_ERR_INTERNAL') throw new VireoError(code as ErrorCode, message);
        log('error', `model code threw: ${stack}`);
        throw new VireoError('VIREO_ERR_BACKEND_EXECUTE', `model code failed: ${message}`);
      }
      if (!Array.isArray(responses) || responses.length !== requests.length) {
        throw new VireoError('VIREO_ERR_BACKEND_EXECUTE', `execute() must return one response per request (${requests.length}), got ${Array.isArray(responses) ? responses.length : typeof responses}`);
      }
      const names = outputs.length > 0 ? [...outputs] : signature.outputs.map((o) => o.name);
      const perRequest = responses.map((response, r) => names.map((name) => {
        const value = response?.outputs?.[name];
        if (value === undefined) throw new VireoError('VIREO_ERR_BACKEND_EXECUTE', `the response to request ${r} has no output "${name}"`);
        const rows = items[r] ?? 1;
        return toTensor(name, value, declaredType(name), (n) => (batched ? [rows, n / rows] : [n]), `output "${name}" of request ${r}`);
      }));
      return concatOutputs(perRequest, names, items, batched);
    },
    async close() {
      try {
        await module.finalize?.();
      } catch (error) {
        log('warn', `finalize() threw: ${describe(error).stack}`);
      }
    },
  };
}
