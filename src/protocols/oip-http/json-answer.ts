/**
 * The REST JSON answer of an inference with large numeric outputs, as one Buffer holding exactly the
 * bytes `stringifyJsonExact(header)` would (core/json-number-text.ts says why: the JS array and the
 * multi-megabyte string that path makes are old-space garbage after every answer).
 *
 * encodeInferResponse leaves a large numeric output's `data` as a DeferredNumbers. Every writer
 * that stringifies the header (the binary extension's header, batch answers) still gets the plain
 * array from its toJSON; jsonAnswer instead stringifies the rest of the header with a placeholder
 * string in its place and writes the numbers between the pieces of that text.
 */
import type { DataType, NumericArray } from '../../core/datatypes.js';
import { stringifyJsonExact } from '../../core/exact-json-text.js';
import { jsonNumbersBound, writeJsonNumbers } from '../../core/json-number-text.js';
import { tensorDataToJson } from '../../core/json-tensors.js';

/**
 * From this many elements an output's JSON is written by jsonAnswer. Below it the plain path is as
 * fast and its garbage dies young (bench/json-answer.ts --elements compares).
 */
export const DEFERRED_JSON_ELEMENTS = 4096;

type NumericType = Exclude<DataType, 'BYTES'>;

/** A numeric output's data, turned into JSON only by whoever writes the answer. */
export class DeferredNumbers {
  constructor(readonly data: NumericArray, readonly datatype: NumericType) {}

  /** The array the plain path writes (JSON.stringify and lossless-json both call toJSON). */
  toJSON(): unknown[] {
    return tensorDataToJson(this.data, this.datatype);
  }
}

/** An output's data as written into the header: deferred when numeric and large. */
export function jsonData(data: NumericArray | Uint8Array[], datatype: DataType, what: string): unknown {
  if (datatype !== 'BYTES' && data.length >= DEFERRED_JSON_ELEMENTS) return new DeferredNumbers(data as NumericArray, datatype);
  return tensorDataToJson(data, datatype, what);
}

type Output = Record<string, unknown> & { data?: unknown };

/**
 * The answer's bytes when some output is deferred; undefined otherwise (the caller sends the header
 * as it is). A placeholder found anywhere but once (a caller's id or parameter spelling it) also
 * gives undefined, and the header then goes the plain way.
 */
export function jsonAnswer(header: Record<string, unknown>): Buffer | undefined {
  if (!Array.isArray(header.outputs)) return undefined;
  const deferred: DeferredNumbers[] = [];
  const placeholders: string[] = [];
  const outputs = (header.outputs as Output[]).map((output) => {
    if (!(output.data instanceof DeferredNumbers)) return output;
    // NUL characters: JSON writes them escaped, so the text holds the placeholder's escaped form.
    const placeholder = `\u0000vireo:numbers:${deferred.length}\u0000`;
    deferred.push(output.data);
    placeholders.push(JSON.stringify(placeholder));
    return { ...output, data: placeholder };
  });
  if (deferred.length === 0) return undefined;
  const text = stringifyJsonExact({ ...header, outputs });
  const pieces: string[] = [];
  let from = 0;
  for (const quoted of placeholders) {
    const at = text.indexOf(quoted);
    if (at < from || text.indexOf(quoted, at + 1) >= 0) return undefined;
    pieces.push(text.slice(from, at));
    from = at + quoted.length;
  }
  pieces.push(text.slice(from));
  let bound = 0;
  for (const piece of pieces) bound += Buffer.byteLength(piece);
  for (const numbers of deferred) bound += jsonNumbersBound(numbers.datatype, numbers.data.length);
  // Not zero-filled: only the bytes written are sent (the subarray below).
  const out = Buffer.allocUnsafeSlow(bound);
  let at = out.write(pieces[0]!, 0);
  for (let i = 0; i < deferred.length; i++) {
    at = writeJsonNumbers(deferred[i]!.data, deferred[i]!.datatype, out, at);
    at += out.write(pieces[i + 1]!, at);
  }
  return out.subarray(0, at);
}
