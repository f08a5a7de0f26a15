/**
 * Triton's sequence extension on a request: `sequence_id` (uint64 or string; 0 and "" mean none),
 * `sequence_start`, `sequence_end`. Numeric and string ids never meet: 7 and "7" are two sequences.
 */
import { VireoError } from '../core/errors.js';
import { hasNumericSequenceId, type Parameters } from '../core/inference.js';

export interface SequenceFlags {
  /** Map key of the sequence: `u:<digits>` or `s:<text>`. */
  key: string;
  /** The correlation id as the CORRID control carries it. */
  id: bigint | string;
  start: boolean;
  end: boolean;
}

/** Longest string id accepted (ids are kept per live sequence and in the recently-ended record). */
export const MAX_SEQUENCE_ID_LENGTH = 256;

const MAX_U64 = (1n << 64n) - 1n;
const notUnsigned = (raw: unknown) =>
  new VireoError('VIREO_ERR_REQUEST_MALFORMED', `parameter "sequence_id" must be an unsigned 64-bit integer or a string, got ${typeof raw === 'string' ? raw : JSON.stringify(raw)}`);

function flag(parameters: Parameters, name: string): boolean {
  const value = parameters[name];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `parameter "${name}" must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

/** The request's sequence flags; throws when the id is missing or malformed. */
export function sequenceFlags(parameters: Parameters | undefined, model: string): SequenceFlags {
  const params = parameters ?? {};
  const start = flag(params, 'sequence_start');
  const end = flag(params, 'sequence_end');
  const raw = params['sequence_id'];
  if (raw === undefined || raw === 0 || raw === '') {
    throw new VireoError('VIREO_ERR_SEQUENCE_ID_MISSING', `model "${model}" is stateful (sequence batching): the request needs a non-zero or non-empty "sequence_id" parameter`);
  }
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw) || raw < 0) throw notUnsigned(raw);
    return { key: `u:${raw}`, id: BigInt(raw), start, end };
  }
  // A uint64 beyond 2^53, kept by its frontend as its decimal text (core/inference.ts).
  if (typeof raw === 'string' && hasNumericSequenceId(params)) {
    const id = /^\d{1,20}$/.test(raw) ? BigInt(raw) : -1n;
    if (id < 1n || id > MAX_U64) throw notUnsigned(raw);
    return { key: `u:${id}`, id, start, end };
  }
  if (typeof raw === 'string') {
    if (raw.length > MAX_SEQUENCE_ID_LENGTH) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `parameter "sequence_id" is longer than ${MAX_SEQUENCE_ID_LENGTH} characters`);
    return { key: `s:${raw}`, id: raw, start, end };
  }
  throw notUnsigned(raw);
}

/** How a sequence id reads in messages. */
export const describeSequence = (flags: Pick<SequenceFlags, 'id'>): string =>
  typeof flags.id === 'string' ? `"${flags.id}"` : String(flags.id);
