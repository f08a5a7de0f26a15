/**
 * JSON text ⇄ values without losing 64-bit integers. JSON.parse turns 2^53+1 into 2^53 and
 * JSON.stringify cannot write a BigInt; INT64/UINT64 tensors need both exact.
 *
 * Invariant: the ordinary request pays one native regex scan and nothing else. Only a text holding
 * an integer literal of 16 or more digits (2^53 has 16) is parsed again with lossless-json, which
 * gives such integers as BigInt when they are beyond ±2^53 (every other number stays a Number). Only
 * a value holding a BigInt (json-tensors.ts writes one for a 64-bit element beyond ±2^53) is written
 * with lossless-json's serializer; everything else goes through JSON.stringify.
 */
import { isInteger, isSafeNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';

/** An integer literal of 16+ digits outside a fraction or an exponent. */
const LONG_INTEGER = /(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/;

const exactNumber = (text: string): number | bigint => (isInteger(text) && !isSafeNumber(text) ? BigInt(text) : Number(text));

/** JSON.parse, with integers beyond ±2^53 as BigInt. Throws SyntaxError on invalid JSON. */
export function parseJsonExact(text: string): unknown {
  return LONG_INTEGER.test(text) ? parseLossless(text, null, exactNumber) : JSON.parse(text);
}

/** True when JSON.parse may have rounded an integer in `text` (parse it again with parseJsonExact). */
export function needsExactParse(text: string): boolean {
  return LONG_INTEGER.test(text);
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
