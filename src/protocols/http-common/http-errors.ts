/** The one map from protocol-neutral error statuses to HTTP status codes, shared by REST frontends. */
import type { ErrorStatus } from '../../core/errors.js';

export const HTTP_STATUS: Record<ErrorStatus, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  UNAVAILABLE: 503,
  RESOURCE_EXHAUSTED: 413,
  DEADLINE_EXCEEDED: 504,
  CANCELLED: 499,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
};
