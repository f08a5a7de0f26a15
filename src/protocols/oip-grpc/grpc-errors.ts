/** The one map from protocol-neutral error statuses to gRPC status codes, for every gRPC service. */
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { VireoError, type ErrorStatus } from '../../core/errors.js';
import type { Logger } from '../../logging/logger.js';

export const GRPC_STATUS: Record<ErrorStatus, GrpcStatus> = {
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  RESOURCE_EXHAUSTED: GrpcStatus.RESOURCE_EXHAUSTED,
  DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
  CANCELLED: GrpcStatus.CANCELLED,
  UNIMPLEMENTED: GrpcStatus.UNIMPLEMENTED,
  INTERNAL: GrpcStatus.INTERNAL,
  PERMISSION_DENIED: GrpcStatus.PERMISSION_DENIED,
  UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
};

/** A gRPC error status for any thrown value; INTERNAL ones are logged since the client sees only the message. */
export function toServiceError(error: unknown, logger?: Logger): Partial<ServiceError> & { code: GrpcStatus; details: string } {
  const e = VireoError.from(error);
  if (e.status === 'INTERNAL') logger?.error({ err: error }, 'internal error while handling a gRPC call');
  return { code: GRPC_STATUS[e.status], details: e.message };
}
