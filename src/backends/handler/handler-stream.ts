/**
 * Decoupled handler models: runs a module's `stream(request, {signal})` and turns each response it
 * yields into tensors as soon as it is yielded. A cancelled stream stops at the next yield: the
 * generator is returned (its `finally` runs) and nothing more is sent.
 */
import { ERROR_CODES, VireoError, type ErrorCode } from '../../core/errors.js';
import type { DataType } from '../../core/datatypes.js';
import type { Tensor } from '../../core/tensor.js';
import type { ExecuteContext, LogFn, ModelSignature, StreamExecute } from '../backend.js';
import type { HandlerModule, HandlerResponse } from './handler-api.js';
import { splitBatch, toTensor } from './handler-tensors.js';

/** A handler error with a Vireo code keeps it (bad client input); anything else is the model's failure. */
function handlerError(error: unknown, log: LogFn): VireoError {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && code in ERROR_CODES && code !== 'VIREO_ERR_INTERNAL') return new VireoError(code as ErrorCode, message);
  log('error', `model code threw: ${error instanceof Error ? error.stack : message}`);
  return new VireoError('VIREO_ERR_BACKEND_EXECUTE', `model code failed: ${message}`);
}

export function streamExecutor(module: HandlerModule, signature: ModelSignature, batched: boolean, log: LogFn): StreamExecute {
  const stream = module.stream!.bind(module);
  const declaredType = (name: string): DataType | undefined => signature.outputs.find((o) => o.name === name)?.datatype;
  const toOutputs = (response: HandlerResponse, outputs: readonly string[], index: number): Tensor[] => {
    const names = outputs.length > 0 ? outputs : Object.keys(response?.outputs ?? {});
    return names.map((name) => {
      const value = response?.outputs?.[name];
      if (value === undefined) throw new VireoError('VIREO_ERR_BACKEND_EXECUTE', `response ${index} has no output "${name}"`);
      return toTensor(name, value, declaredType(name), (n) => (batched ? [1, n] : [n]), `output "${name}" of response ${index}`);
    });
  };
  return async (inputs: Tensor[], outputs: readonly string[], ctx: ExecuteContext | undefined, onResponse: (outputs: Tensor[]) => void, signal: AbortSignal) => {
    const [own] = splitBatch(inputs, ctx?.items ?? [1], batched);
    const request = { inputs: own!, requestedOutputs: [...outputs], parameters: { ...(ctx?.parameters?.[0] ?? {}) } };
    let iterator: AsyncIterator<HandlerResponse> | Iterator<HandlerResponse> | undefined;
    try {
      const produced = stream(request, { signal });
      iterator = Symbol.asyncIterator in produced ? produced[Symbol.asyncIterator]() : (produced as Iterable<HandlerResponse>)[Symbol.iterator]();
      for (let index = 0; !signal.aborted; index++) {
        const next = await iterator.next();
        if (next.done) return;
        if (signal.aborted) break;
        onResponse(toOutputs(next.value, outputs, index));
      }
      throw new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'the client cancelled the stream');
    } catch (error) {
      if (signal.aborted) throw new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'the client cancelled the stream');
      if (error instanceof VireoError) throw error;
      throw handlerError(error, log);
    } finally {
      if (signal.aborted) await Promise.resolve(iterator?.return?.()).catch(() => undefined);
    }
  };
}
