/**
 * JSON text ⇄ values without losing 64-bit integers. JSON.parse turns 2^53+1 into 2^53 and
 * JSON.stringify cannot write a BigInt; INT64/UINT64 tensors (and 64-bit parameters) need both exact.
 *
 * Invariant: the ordinary request pays nothing but one symbol-keyed property. Bodies are parsed with
 * JSON.parse and their text is kept on the parsed value (a symbol key: invisible to JSON.stringify,
 * Object.keys and entries; a WeakMap entry cost ≈ 1 µs per request, bench/sections/exact-json.ts); only when a decoder meets an integer
 * JSON.parse could not hold exactly (core's InexactJsonNumber: a 64-bit tensor element or parameter
 * beyond ±2^53) is the text parsed again with lossless-json, integers beyond ±2^53 as BigInt, and
 * decoded once more. Only an answer holding a BigInt is written with lossless-json's serializer.
 */
import { parseJsonExact } from '../../core/exact-json-text.js';
import { InexactJsonNumber } from '../../core/json-tensors.js';

export { parseJsonExact, stringifyJsonExact } from '../../core/exact-json-text.js';

/** The text a parsed request body came from, for the exact second reading. */
const SOURCE_TEXT = Symbol('vireo.jsonText');

/** Remembers `text` as the source of the parsed `value` (a body parsed elsewhere, e.g. by fastify). */
export function keepJsonText(value: unknown, text: string): void {
  if (typeof value === 'object' && value !== null) (value as { [SOURCE_TEXT]?: string })[SOURCE_TEXT] = text;
}

/** JSON.parse, keeping the text for decodeExactly. Throws SyntaxError on invalid JSON. */
export function parseJson(text: string): unknown {
  const value = JSON.parse(text) as unknown;
  keepJsonText(value, text);
  return value;
}

/**
 * `decode(json)`; if the decoder met an integer JSON.parse rounded, decodes again from an exact
 * reading of the body's text. Without the text, the decoder's error stands (a clear 400).
 */
export function decodeExactly<T>(json: unknown, decode: (json: unknown) => T): T {
  try {
    return decode(json);
  } catch (error) {
    if (!(error instanceof InexactJsonNumber)) throw error;
    const text = typeof json === 'object' && json !== null ? (json as { [SOURCE_TEXT]?: string })[SOURCE_TEXT] : undefined;
    if (text === undefined) throw error;
    return decode(parseJsonExact(text));
  }
}
