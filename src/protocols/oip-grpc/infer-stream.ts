/**
 * ModelStreamInfer: a bidirectional stream of ModelInferRequest → ModelStreamInferResponse.
 * Requests run concurrently (the scheduler may batch them); responses are written in request
 * order, one per request. A request that fails is answered with `error_message` (and its id in
 * `infer_response`) and the stream goes on. The client half-closing ends the stream once every
 * admitted request is answered; cancelling it aborts the requests still queued.
 *
 * Back-pressure both ways: with `inFlightLimit` requests unanswered the stream stops reading (HTTP/2
 * flow control then holds the client back), and a response the client is slow to read is waited
 * for ('drain') before the next is written, so neither side buffers without bound.
 */
import { once, setMaxListeners } from 'node:events';
import { status as grpcStatus, type Metadata, type ServerDuplexStream } from '@grpc/grpc-js';
import { VireoError } from '../../core/errors.js';
import type { Logger } from '../../logging/logger.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { UndecodableMessage } from './grpc-decode.js';
import { GRPC_STATUS } from './grpc-errors.js';
import { statusName, traceFromMetadata } from './grpc-observability.js';
import { parseModelInferRequest, toModelInferResponse, type ModelInferRequestMessage } from './grpc-infer-codec.js';

/** Each open stream registers a function that ends it once its admitted requests are answered. */
export type StreamRegistry = Set<() => void>;

/**
 * Responses of decoupled models waiting to be written on one stream beyond which the client is
 * too slow to read them: the call ends RESOURCE_EXHAUSTED (its requests are cancelled) instead of
 * buffering without bound.
 */
export const STREAM_UNWRITTEN_LIMIT = 1024;

/** Unanswered requests one stream may have before it stops reading more. */
export const STREAM_IN_FLIGHT_LIMIT = 64;

interface StreamContext {
  server: InferenceServer;
  logger: Logger;
  streams: StreamRegistry;
  inFlightLimit?: number;
}

/** Resolves when the stream can take writes again, or is gone. */
async function writable(call: ServerDuplexStream<unknown, unknown>): Promise<void> {
  const settled = new AbortController();
  const options = { signal: settled.signal };
  await Promise.race([once(call, 'drain', options), once(call, 'cancelled', options), once(call, 'close', options)]).catch(() => undefined);
  settled.abort();
}

async function answer(server: InferenceServer, logger: Logger, received: ModelInferRequestMessage | UndecodableMessage, signal: AbortSignal, metadata: Metadata): Promise<unknown> {
  if (received instanceof UndecodableMessage) {
    server.protocolRecorder?.protocolRequest('grpc', 'ModelStreamInfer', statusName(GRPC_STATUS[received.error.status]));
    return { error_message: received.error.message, infer_response: { model_name: '', model_version: '', id: '' } };
  }
  const message = received;
  const trace = traceFromMetadata(server, message.model_name, message.model_version || undefined, metadata, message.id);
  try {
    server.requireModel(message.model_name, message.model_version);
    const { request } = parseModelInferRequest(message, signal, (ref, datatype, shape, count, what) => server.sharedMemoryInput(ref, datatype, shape, count, what));
    request.trace = trace;
    const response = await server.infer(request);
    trace?.encoding();
    const encoded = { error_message: '', infer_response: toModelInferResponse(response) };
    trace?.end();
    server.protocolRecorder?.protocolRequest('grpc', 'ModelStreamInfer', 'OK');
    return encoded;
  } catch (error) {
    const e = VireoError.from(error);
    trace?.end(e);
    server.protocolRecorder?.protocolRequest('grpc', 'ModelStreamInfer', statusName(GRPC_STATUS[e.status]));
    if (e.status === 'INTERNAL') logger.error({ err: error }, 'internal error in a ModelStreamInfer request');
    return {
      error_message: e.message,
      infer_response: { model_name: message.model_name ?? '', model_version: message.model_version ?? '', id: message.id ?? '' },
    };
  }
}

/** Whether a stream request goes to a decoupled model (an unknown model takes the ordinary path and its error). */
function decoupled(server: InferenceServer, message: ModelInferRequestMessage): boolean {
  try {
    return server.isDecoupled(message.model_name, message.model_version || undefined);
  } catch {
    return false;
  }
}

/**
 * A decoupled model's request: each response is written as soon as the model sends it, marked
 * with Triton's `triton_final_response` (false); the end is an empty response marked true when
 * the request asked for it (`triton_enable_empty_final_response`). An error ends that request
 * only, as an `error_message` response.
 */
async function answerStream(server: InferenceServer, logger: Logger, message: ModelInferRequestMessage, signal: AbortSignal, metadata: Metadata, write: (response: unknown) => void): Promise<void> {
  const trace = traceFromMetadata(server, message.model_name, message.model_version || undefined, metadata, message.id);
  const head = { model_name: message.model_name ?? '', model_version: message.model_version ?? '', id: message.id ?? '' };
  try {
    const { request } = parseModelInferRequest(message, signal);
    request.trace = trace;
    await server.inferStream(request, (response) => {
      const encoded = toModelInferResponse(response) as { parameters?: Record<string, unknown> };
      encoded.parameters = { ...encoded.parameters, triton_final_response: { bool_param: false } };
      write({ error_message: '', infer_response: encoded });
    });
    if (request.parameters?.['triton_enable_empty_final_response'] === true) {
      write({ error_message: '', infer_response: { ...head, parameters: { triton_final_response: { bool_param: true } } } });
    }
    trace?.end();
    server.protocolRecorder?.protocolRequest('grpc', 'ModelStreamInfer', 'OK');
  } catch (error) {
    const e = VireoError.from(error);
    trace?.end(e);
    server.protocolRecorder?.protocolRequest('grpc', 'ModelStreamInfer', statusName(GRPC_STATUS[e.status]));
    if (e.status === 'INTERNAL') logger.error({ err: error }, 'internal error in a ModelStreamInfer request');
    write({ error_message: e.message, infer_response: { ...head, parameters: { triton_final_response: { bool_param: true } } } });
  }
}

export function handleInferStream(call: ServerDuplexStream<ModelInferRequestMessage, unknown>, ctx: StreamContext): void {
  const controller = new AbortController();
  let tail: Promise<void> = Promise.resolve();
  let pending = 0;
  let inputEnded = false;
  let finished = false;
  let paused = false;
  let unwritten = 0;
  const limit = ctx.inFlightLimit ?? STREAM_IN_FLIGHT_LIMIT;
  // Each unanswered request has one listener on the stream's signal (removed once answered): up to
  // `limit` by design, so Node's leak warning (past 10) would be a false alarm; past twice that it is not.
  setMaxListeners(2 * limit, controller.signal);

  const finish = () => {
    if (finished) return;
    finished = true;
    ctx.streams.delete(drain);
    if (!call.cancelled) call.end();
  };
  const maybeFinish = () => {
    if (inputEnded && pending === 0) finish();
  };
  /** Shutdown: take no more requests on this stream, end it after the admitted ones. */
  const drain = () => {
    inputEnded = true;
    maybeFinish();
  };
  ctx.streams.add(drain);

  call.on('data', (message: ModelInferRequestMessage) => {
    if (inputEnded) return;
    pending++;
    if (pending >= limit && !paused) {
      paused = true;
      call.pause();
    }
    const writeNow = (response: unknown) => {
      if (finished) return;
      if (++unwritten > STREAM_UNWRITTEN_LIMIT) {
        controller.abort();
        finished = true;
        ctx.streams.delete(drain);
        call.emit('error', { code: grpcStatus.RESOURCE_EXHAUSTED, details: `more than ${STREAM_UNWRITTEN_LIMIT} responses wait for the client to read them; the stream is ended` });
        return;
      }
      tail = tail.then(async () => {
        unwritten--;
        if (!finished && !call.cancelled && !call.write(response)) await writable(call);
      });
    };
    // Every request shares the stream's signal: the scheduler and the decoupled runner remove their
    // listener from it once the request is answered (CancelSignal), so a long-lived stream holds
    // nothing of the requests it has answered.
    if (decoupled(ctx.server, message)) {
      void answerStream(ctx.server, ctx.logger, message, controller.signal, call.metadata, writeNow).then(() => {
        tail = tail.then(() => {
          pending--;
          if (paused && pending < limit) {
            paused = false;
            call.resume();
          }
          maybeFinish();
        });
      });
      return;
    }
    const result = answer(ctx.server, ctx.logger, message, controller.signal, call.metadata);
    tail = tail.then(async () => {
      const response = await result;
      if (!finished && !call.cancelled && !call.write(response)) await writable(call);
      pending--;
      if (paused && pending < limit) {
        paused = false;
        call.resume();
      }
      maybeFinish();
    });
  });
  call.on('end', () => {
    inputEnded = true;
    maybeFinish();
  });
  call.on('error', () => undefined);
  call.once('cancelled', () => {
    controller.abort();
    inputEnded = true;
    finished = true;
    ctx.streams.delete(drain);
  });
}
