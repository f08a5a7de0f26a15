/**
 * JSON text ⇄ values without losing 64-bit integers: JSON.parse turns 2^53+1 into 2^53, and
 * JSON.stringify cannot write a BigInt, yet INT64/UINT64 tensors need both exact. The ordinary body
 * pays one JSON.parse / JSON.stringify; only one holding such an integer is read or written again
 * with lossless-json. Used by the REST frontend (protocols/http-common/exact-json.ts keeps a body's
 * text for that second reading) and by batch jobs, whose lines and answers are the same JSON.
 */
import { isInteger, isSafeNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { VireoError } from './errors.js';

const exactNumber = (text: string): number | bigint => (isInteger(text) && !isSafeNumber(text) ? BigInt(text) : Number(text));

/**
 * Parses with integers beyond ±2^53 as BigInt (every other number a Number). Text JSON.parse took can
 * still be refused here (lossless-json rejects a duplicate key): that is the sender's malformed JSON, a
 * 400, not an internal error.
 */
export function parseJsonExact(text: string): unknown {
  try {
    return parseLossless(text, null, exactNumber);
  } catch (error) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `the JSON could not be read exactly: ${(error as Error).message}`);
  }
}

/** JSON.stringify, writing BigInt values as exact integer literals. */
export function stringifyJsonExact(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError) || !/BigInt/i.test(error.message)) throw error;
    return stringifyLossless(value) ?? 'null';
  }
}
