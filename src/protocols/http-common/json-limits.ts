/**
 * JSON bodies are measured before they are parsed: nesting depth (Triton caps it at 100) and the
 * number of values, counted in one pass over the bytes (strings skipped), so a body of a million
 * nested brackets or tens of millions of tiny values is refused with 413 naming the limit and its
 * option instead of costing the parser's time and memory. The pass is linear in the body.
 */
import { parseJson } from './exact-json.js';
import { VireoError } from '../../core/errors.js';

export interface JsonLimits {
  /** Deepest nesting of arrays and objects (`--http-max-json-depth`). */
  maxDepth: number;
  /** Most values (array elements and object members) in one body (`--http-max-json-elements`). */
  maxElements: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's JSON limits (http-server.ts decorates them), for routes that parse JSON themselves. */
    jsonLimits: JsonLimits;
  }
}

export const DEFAULT_JSON_LIMITS: JsonLimits = { maxDepth: 100, maxElements: 8 * 1024 * 1024 };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;

/** Throws REQUEST_TOO_LARGE when `bytes[start, end)` nests deeper or holds more values than allowed. */
export function checkJsonLimits(bytes: Uint8Array, limits: JsonLimits, start = 0, end = bytes.length): void {
  let depth = 0;
  // Each container opened and each comma starts a value: an upper bound of the values, off by at most one per container.
  let values = 0;
  let inString = false;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limits.maxDepth) {
        throw new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', `the JSON body nests deeper than the limit of ${limits.maxDepth} levels (--http-max-json-depth)`);
      }
      values++;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    } else if (c === COMMA && ++values > limits.maxElements) {
      throw new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', `the JSON body has more than the limit of ${limits.maxElements} values (--http-max-json-elements)`);
    }
  }
}

/** Parses JSON text from a request after checking its limits; `what` names it in the error. */
export function parseBoundedJson(bytes: Buffer, limits: JsonLimits, what = 'the request body', start = 0, end = bytes.length): unknown {
  checkJsonLimits(bytes, limits, start, end);
  try {
    // The text is kept for an exact second reading of 64-bit integers beyond ±2^53 (exact-json.ts).
    return parseJson(bytes.toString('utf8', start, end));
  } catch (error) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `${what} is not valid JSON: ${(error as Error).message}`);
  }
}
