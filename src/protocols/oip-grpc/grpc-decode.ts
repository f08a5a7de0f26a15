/**
 * Request messages that cannot be decoded are the client's fault: INVALID_ARGUMENT (or
 * RESOURCE_EXHAUSTED past a bound), never the INTERNAL grpc-js answers when a deserializer throws
 * or a compressed message does not inflate.
 *
 * `withCheckedDecoding` wraps each method's deserializer so that it never throws: a message that
 * fails (protobuf errors, wrong wire types, request bounds checked before decoding by
 * infer-message-shape.ts) decodes to an `UndecodableMessage` carrying the VireoError.
 * `decodeErrorInterceptor` answers such a message with its status before any handler sees it —
 * except on ModelStreamInfer, whose handler answers it in the stream (`error_message`) and goes
 * on with the other requests — and turns grpc-js's own INTERNAL for a body that does not inflate
 * (or a malformed grpc-timeout) into INVALID_ARGUMENT.
 */
import {
  status as GrpcStatus, ServerInterceptingCall, ServerListenerBuilder, type ServerInterceptor, type ServiceDefinition,
} from '@grpc/grpc-js';
import { VireoError } from '../../core/errors.js';
import { GRPC_STATUS } from './grpc-errors.js';
import { checkInferMessageShape } from './infer-message-shape.js';

type PartialStatusObject = Parameters<ServerInterceptingCall['sendStatus']>[0];

export class UndecodableMessage {
  constructor(readonly error: VireoError) {}
}

/** Methods whose messages are ModelInferRequests, scanned for their BYTES bounds before decoding. */
const INFER_METHODS = new Set(['ModelInfer', 'ModelStreamInfer']);
/** Methods that answer an undecodable message themselves. */
const STREAM_ANSWERED = /\/ModelStreamInfer$/;

const MAX_DETAIL = 200;

export function withCheckedDecoding<T extends ServiceDefinition>(definition: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    const scan = INFER_METHODS.has(name) || INFER_METHODS.has(method.originalName ?? '');
    out[name] = {
      ...method,
      requestDeserialize: (buffer: Buffer) => {
        try {
          if (scan) checkInferMessageShape(buffer);
          return decode(buffer);
        } catch (error) {
          if (error instanceof VireoError) return new UndecodableMessage(error);
          const reason = (error instanceof Error ? error.message : String(error)).slice(0, MAX_DETAIL);
          return new UndecodableMessage(new VireoError('VIREO_ERR_REQUEST_MALFORMED', `the request message is not a valid ${name} request: ${reason}`));
        }
      },
    };
  }
  return out as T;
}

export const decodeErrorInterceptor: ServerInterceptor = (method, next) => {
  const answersItself = STREAM_ANSWERED.test(method.path);
  let refused = false;
  const call: ServerInterceptingCall = new ServerInterceptingCall(next, {
    start: (startNext) => startNext(new ServerListenerBuilder()
      .withOnReceiveMessage((message, messageNext) => {
        if (refused) return;
        if (message instanceof UndecodableMessage && !answersItself) {
          refused = true;
          call.sendStatus({ code: GRPC_STATUS[message.error.status], details: message.error.message });
          return;
        }
        messageNext(message);
      })
      .withOnReceiveHalfClose((halfCloseNext) => {
        if (!refused) halfCloseNext();
      })
      .build()),
  });
  // grpc-js sends the statuses of its own decoding failures (a body that does not inflate, a bad
  // grpc-timeout) on the underlying call directly, past any responder: that call's sendStatus is
  // wrapped so those leave as what they are, the client's error.
  const base = next as { sendStatus(status: PartialStatusObject): void };
  const send = base.sendStatus.bind(base);
  base.sendStatus = (status) => send(asClientError(status));
  return call;
};

function asClientError(status: PartialStatusObject): PartialStatusObject {
  if (status.code !== GrpcStatus.INTERNAL) return status;
  if (status.details === 'Failed to decompress message') {
    return { ...status, code: GrpcStatus.INVALID_ARGUMENT, details: 'the request message could not be decompressed with its grpc-encoding' };
  }
  if (status.details?.startsWith('Invalid grpc-timeout')) return { ...status, code: GrpcStatus.INVALID_ARGUMENT };
  return status;
}
