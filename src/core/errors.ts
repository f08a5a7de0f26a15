/**
 * Every error Vireo reports, declared once with a stable code and a protocol-neutral status.
 * Frontends map `status` to HTTP or gRPC in one table each; errors that cross a worker boundary
 * travel as plain `{ code, status, message }` and are matched on `code`, never with instanceof.
 */

import { boundedMessage } from './bounded-text.js';

export type ErrorStatus =
  | 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'UNAVAILABLE' | 'RESOURCE_EXHAUSTED'
  | 'DEADLINE_EXCEEDED' | 'CANCELLED' | 'UNIMPLEMENTED' | 'INTERNAL' | 'PERMISSION_DENIED' | 'UNAUTHENTICATED';

export const ERROR_STATUSES: readonly ErrorStatus[] = [
  'INVALID_ARGUMENT', 'NOT_FOUND', 'UNAVAILABLE', 'RESOURCE_EXHAUSTED',
  'DEADLINE_EXCEEDED', 'CANCELLED', 'UNIMPLEMENTED', 'INTERNAL', 'PERMISSION_DENIED', 'UNAUTHENTICATED',
];

/** Stable codes: `VIREO_ERR_<AREA>_<WHAT>`. docs/errors.md lists each one (a test keeps it so). */
export const ERROR_CODES = {
  VIREO_ERR_REQUEST_MALFORMED: 'INVALID_ARGUMENT',
  VIREO_ERR_REQUEST_TOO_LARGE: 'RESOURCE_EXHAUSTED',
  VIREO_ERR_INPUT_MISSING: 'INVALID_ARGUMENT',
  VIREO_ERR_INPUT_UNKNOWN: 'INVALID_ARGUMENT',
  VIREO_ERR_INPUT_DATATYPE: 'INVALID_ARGUMENT',
  VIREO_ERR_INPUT_SHAPE: 'INVALID_ARGUMENT',
  VIREO_ERR_INPUT_DATA: 'INVALID_ARGUMENT',
  VIREO_ERR_OUTPUT_UNKNOWN: 'INVALID_ARGUMENT',
  VIREO_ERR_BATCH_TOO_LARGE: 'INVALID_ARGUMENT',
  VIREO_ERR_MODEL_NOT_FOUND: 'NOT_FOUND',
  VIREO_ERR_VERSION_NOT_FOUND: 'NOT_FOUND',
  VIREO_ERR_MODEL_NOT_READY: 'UNAVAILABLE',
  VIREO_ERR_SERVER_SHUTTING_DOWN: 'UNAVAILABLE',
  VIREO_ERR_QUEUE_FULL: 'UNAVAILABLE',
  VIREO_ERR_REQUEST_TIMEOUT: 'DEADLINE_EXCEEDED',
  VIREO_ERR_REQUEST_CANCELLED: 'CANCELLED',
  VIREO_ERR_CONFIG_INVALID: 'INVALID_ARGUMENT',
  VIREO_ERR_MODEL_LOAD_FAILED: 'UNAVAILABLE',
  VIREO_ERR_BACKEND_EXECUTE: 'INTERNAL',
  VIREO_ERR_WORKER_DIED: 'INTERNAL',
  VIREO_ERR_UNIMPLEMENTED: 'UNIMPLEMENTED',
  VIREO_ERR_PERMISSION_DENIED: 'PERMISSION_DENIED',
  VIREO_ERR_PATH_INVALID: 'INVALID_ARGUMENT',
  VIREO_ERR_MODEL_TOO_LARGE: 'RESOURCE_EXHAUSTED',
  VIREO_ERR_MEMORY_BUDGET_EXHAUSTED: 'UNAVAILABLE',
  VIREO_ERR_BATCH_FILE_NOT_FOUND: 'NOT_FOUND',
  VIREO_ERR_BATCH_NOT_FOUND: 'NOT_FOUND',
  VIREO_ERR_BATCH_LIMIT: 'RESOURCE_EXHAUSTED',
  VIREO_ERR_BATCH_STATE: 'INVALID_ARGUMENT',
  VIREO_ERR_INTERNAL: 'INTERNAL',
  VIREO_ERR_UNAUTHENTICATED: 'UNAUTHENTICATED',
  VIREO_ERR_OUTPUT_NOT_JSON: 'INVALID_ARGUMENT',
  VIREO_ERR_SEQUENCE_ID_MISSING: 'INVALID_ARGUMENT',
  VIREO_ERR_SEQUENCE_UNKNOWN: 'NOT_FOUND',
  VIREO_ERR_SEQUENCE_LIMIT: 'RESOURCE_EXHAUSTED',
  VIREO_ERR_SEQUENCE_BATCH_SIZE: 'INVALID_ARGUMENT',
  VIREO_ERR_MODEL_DECOUPLED: 'INVALID_ARGUMENT',
  VIREO_ERR_SHM_NOT_FOUND: 'NOT_FOUND',
  VIREO_ERR_BATCH_INPUT_INVALID: 'INVALID_ARGUMENT',
  VIREO_ERR_BATCH_OUTPUT_MISMATCH: 'INVALID_ARGUMENT',
  VIREO_ERR_BATCH_OUTPUT_INVALID: 'INVALID_ARGUMENT',
  VIREO_ERR_BATCH_TOO_MANY_ERRORS: 'RESOURCE_EXHAUSTED',
} as const satisfies Record<string, ErrorStatus>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface SerializedError { code: ErrorCode; message: string }

export class VireoError extends Error {
  readonly code: ErrorCode;
  readonly status: ErrorStatus;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    // Messages quote client strings: bounded here, once, for every frontend.
    super(boundedMessage(message), options);
    this.name = 'VireoError';
    this.code = code;
    this.status = ERROR_CODES[code];
  }

  toJSON(): SerializedError {
    return { code: this.code, message: this.message };
  }

  /** Rebuilds an error that crossed a thread boundary; anything unrecognised becomes INTERNAL. */
  static from(value: unknown): VireoError {
    if (value instanceof VireoError) return value;
    if (value && typeof value === 'object' && 'code' in value && 'message' in value) {
      const { code, message } = value as { code: unknown; message: unknown };
      if (typeof code === 'string' && code in ERROR_CODES) return new VireoError(code as ErrorCode, String(message));
      return new VireoError('VIREO_ERR_INTERNAL', String(message));
    }
    return new VireoError('VIREO_ERR_INTERNAL', value instanceof Error ? value.message : String(value));
  }
}

export const isVireoError = (value: unknown): value is VireoError => value instanceof VireoError;
