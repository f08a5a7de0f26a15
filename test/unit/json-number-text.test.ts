/**
 * The Buffer writer of numeric tensors' JSON (core/json-number-text.ts) and the answer built with it
 * (protocols/oip-http/json-answer.ts) give the plain path's bytes: JSON.stringify of the values, and
 * stringifyJsonExact(tensorDataToJson(...)), on values generated here from random bits.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { DataType, NumericArray } from '../../src/core/datatypes.js';
import { stringifyJsonExact } from '../../src/core/exact-json-text.js';
import { jsonNumbersBound, writeJsonNumbers } from '../../src/core/json-number-text.js';
import { tensorDataToJson } from '../../src/core/json-tensors.js';
import type { InferRequest, InferResponse } from '../../src/core/inference.js';
import { DEFERRED_JSON_ELEMENTS, jsonAnswer } from '../../src/protocols/oip-http/json-answer.js';
import { encodeInferResponse } from '../../src/protocols/oip-http/oip-binary-codec.js';

type Numeric = Exclude<DataType, 'BYTES'>;

/** Every element a random bit pattern: subnormals, NaNs with payloads and infinities included. */
function randomBits<T extends NumericArray>(make: new (buffer: ArrayBuffer) => T, bytes: number): T {
  const raw = randomBytes(bytes);
  return new make(raw.buffer.slice(raw.byteOffset, raw.byteOffset + bytes));
}

/** Values with the longest texts (17 digits, below 1e-6 or at the edges of fixed notation) and the special ones. */
const SPECIAL = [0, -0, NaN, -NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE,
  2.2250738585072014e-308, 2.225073858507201e-308, 1e21, 999999999999999900000, 1e-7, 1e-6, -0.0000012345678901234567,
  -0.0000099999999999999991, 123456789012345680000, 0.1, 1 / 3, -2 / 3, 5e-324, 1.401298464324817e-45, 3.4028234663852886e38];

function random(datatype: Numeric, n: number): NumericArray {
  switch (datatype) {
    case 'FP32': {
      const v = randomBits(Float32Array, 4 * n);
      SPECIAL.forEach((x, i) => { if (i < n) v[i] = x; });
      return v;
    }
    case 'FP64': {
      const v = randomBits(Float64Array, 8 * n);
      // Half the values from a wide range of ordinary magnitudes, the rest any bit pattern.
      for (let i = 0; i < n; i += 2) v[i] = (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 60 - 30);
      SPECIAL.forEach((x, i) => { if (i < n) v[i] = x; });
      return v;
    }
    case 'FP16':
    case 'BF16': {
      const v = randomBits(Uint16Array, 2 * n);
      // ±0, ±Infinity, a NaN, the smallest subnormal, in each format's bits.
      const specials = datatype === 'FP16' ? [0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x0001, 0x8001, 0x7bff] : [0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x8001, 0x7f7f];
      specials.forEach((x, i) => { if (i < n) v[i] = x; });
      return v;
    }
    case 'BOOL': return Uint8Array.from(randomBytes(n), (b) => (b < 100 ? 0 : b));
    case 'INT8': return randomBits(Int8Array, n);
    case 'UINT8': return randomBits(Uint8Array, n);
    case 'INT16': return randomBits(Int16Array, 2 * n);
    case 'UINT16': return randomBits(Uint16Array, 2 * n);
    case 'INT32': return randomBits(Int32Array, 4 * n);
    case 'UINT32': return randomBits(Uint32Array, 4 * n);
    case 'INT64':
    case 'UINT64': {
      const v = datatype === 'INT64' ? randomBits(BigInt64Array, 8 * n) : randomBits(BigUint64Array, 8 * n);
      // Mostly within ±2^53 (numbers on the plain path), with a few blocks beyond it.
      for (let i = 0; i < n; i++) if (i % 3000 !== 7) v[i] = BigInt(Math.floor(Math.random() * 2 ** 53)) * (datatype === 'INT64' && i % 2 ? -1n : 1n);
      return v;
    }
  }
}

function written(data: NumericArray, datatype: Numeric): string {
  const bound = jsonNumbersBound(datatype, data.length);
  const out = Buffer.alloc(bound + 4, 0x23);
  const end = writeJsonNumbers(data, datatype, out, 2);
  assert.ok(end <= 2 + bound, 'the bound holds');
  assert.equal(out[1], 0x23, 'nothing written before the offset');
  return out.toString('latin1', 2, end);
}

const DATATYPES: Numeric[] = ['FP32', 'FP64', 'FP16', 'BF16', 'BOOL', 'INT8', 'UINT8', 'INT16', 'UINT16', 'INT32', 'UINT32', 'INT64', 'UINT64'];

describe('writeJsonNumbers', () => {
  for (const datatype of DATATYPES) {
    it(`${datatype}: the plain path's text, at every size around a block`, () => {
      for (const n of [0, 1, 2, 2047, 2048, 2049, 4096, 10_001]) {
        const data = random(datatype, n);
        assert.equal(written(data, datatype), stringifyJsonExact(tensorDataToJson(data, datatype)), `${datatype} × ${n}`);
      }
    });
  }

  it('floats: JSON.stringify of the same numbers (NaN and ±Infinity null, -0 as 0)', () => {
    const f64 = random('FP64', 9000) as Float64Array;
    assert.equal(written(f64, 'FP64'), JSON.stringify(Array.from(f64)));
    const f32 = random('FP32', 9000) as Float32Array;
    assert.equal(written(f32, 'FP32'), JSON.stringify(Array.from(f32)));
    assert.equal(written(Float64Array.of(-0, NaN, -Infinity, 5e-324), 'FP64'), '[0,null,null,5e-324]');
  });

  it('64-bit integers beyond ±2^53 are exact digits', () => {
    const big = BigInt64Array.of(-(2n ** 63n), 2n ** 53n + 1n, 1n, -(2n ** 53n) - 1n, 9007199254740991n);
    assert.equal(written(big, 'INT64'), '[-9223372036854775808,9007199254740993,1,-9007199254740993,9007199254740991]');
    const unsigned = BigUint64Array.of(2n ** 64n - 1n, 0n);
    assert.equal(written(unsigned, 'UINT64'), '[18446744073709551615,0]');
  });

  it('the longest doubles fit the bound exactly', () => {
    const longest = new Float64Array(5000).fill(-0.0000012345678901234567);
    assert.equal(String(longest[0]).length + 1, 26);
    assert.equal(written(longest, 'FP64').length, jsonNumbersBound('FP64', 5000) - 1);
  });
});

describe('jsonAnswer', () => {
  const n = DEFERRED_JSON_ELEMENTS + 1234;
  const response = (id?: string): InferResponse => ({
    model: 'm', version: '1', ...(id !== undefined ? { id } : {}), parameters: { sequence_id: 42, note: 'ünï' },
    outputs: [
      { name: 'text', datatype: 'BYTES', shape: [2], data: [Buffer.from('a"b'), Buffer.from('ç')] },
      { name: 'scores', datatype: 'FP32', shape: [1, n], data: random('FP32', n) },
      { name: 'small', datatype: 'FP32', shape: [2], data: Float32Array.of(NaN, -0) },
      // Not deferred and beyond 2^53: the rest of the header is written by lossless-json.
      { name: 'big', datatype: 'INT64', shape: [1], data: BigInt64Array.of(2n ** 60n + 1n) },
      { name: 'ids', datatype: 'INT64', shape: [n], data: random('INT64', n) },
      { name: 'mask', datatype: 'BOOL', shape: [n], data: random('BOOL', n) },
    ],
  });
  const request: InferRequest = { model: 'm', inputs: [] };

  it('is the bytes the reply serializer writes for the plain header', () => {
    for (const id of [undefined, 'req-1']) {
      const answered = response(id);
      const plain = Buffer.from(stringifyJsonExact(encodeInferResponse(answered, request).header));
      const header = encodeInferResponse(answered, request, true).header;
      const answer = jsonAnswer(header);
      assert.ok(answer, 'large outputs are deferred');
      assert.ok(answer.equals(plain));
      // A deferred header stringified as it is (the binary extension, batch answers) is the same text.
      assert.equal(stringifyJsonExact(header), plain.toString());
    }
  });

  it('a placeholder spelled by the caller makes it step aside', () => {
    const answered = response('\u0000vireo:numbers:0\u0000');
    const header = encodeInferResponse(answered, request, true).header;
    assert.equal(jsonAnswer(header), undefined);
    assert.equal(stringifyJsonExact(header), stringifyJsonExact(encodeInferResponse(answered, request).header));
  });

  it('small outputs are not deferred', () => {
    const small: InferResponse = { model: 'm', version: '1', outputs: [{ name: 'x', datatype: 'FP32', shape: [3], data: Float32Array.of(1, 2, 3) }] };
    assert.equal(jsonAnswer(encodeInferResponse(small, request, true).header), undefined);
  });
});
