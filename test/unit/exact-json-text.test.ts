/** Exact JSON text for 64-bit integers: what JSON.parse / JSON.stringify cannot hold, and bad text as the sender's error. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseJsonExact, stringifyJsonExact } from '../../src/core/exact-json-text.js';

it('reads integers beyond ±2^53 as BigInt and writes them back as the same literals', () => {
  const text = '{"data":[9007199254740993,-9223372036854775808,5,1.5]}';
  const value = parseJsonExact(text) as { data: unknown[] };
  assert.deepEqual(value.data, [9007199254740993n, -9223372036854775808n, 5, 1.5]);
  assert.equal(stringifyJsonExact(value), text);
});

it('refuses text JSON.parse takes but an exact reading cannot (a duplicate key) as malformed, not internal', () => {
  const text = '{"a":9007199254740993,"a":2}';
  assert.doesNotThrow(() => JSON.parse(text));
  assert.throws(() => parseJsonExact(text), (error: { code?: string; message: string }) => error.code === 'VIREO_ERR_REQUEST_MALFORMED' && /Duplicate key/.test(error.message));
});
