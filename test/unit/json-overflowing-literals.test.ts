/**
 * A JSON number literal beyond the double range (`1e400`) is read by JSON.parse as ±Infinity; on every
 * JSON wire path it is refused as the overflow it is, naming the element (or parameter), while JS values
 * (dataframe cells, BLS calls) keep an infinity. Inputs are JSON text parsed here, so the expectations
 * follow from the text alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseJsonExact } from '../../src/core/exact-json-text.js';
import { jsonTextToTensorData, jsonToTensorData } from '../../src/core/json-tensors.js';
import { parseInferBody, parseParameters } from '../../src/protocols/oip-http/oip-json-codec.js';

const parsed = (text: string) => JSON.parse(text) as unknown;
/** The largest double: finite, so FP64 holds it; beyond FP32's ≈ 3.4e38. */
const MAX_DOUBLE = '1.7976931348623157e308';

describe('number literals beyond the double range, from JSON text', () => {
  it('are refused for every float datatype, flat (the fast path) and nested, naming the element', () => {
    for (const datatype of ['FP64', 'FP32', 'FP16', 'BF16'] as const) {
      // The last: a 401-digit integer literal, beyond the double range as well.
      for (const text of ['[1, 1e400]', '[1, -1e309]', '[[1], [1e400]]', `[1, 1${'0'.repeat(400)}]`]) {
        assert.throws(() => jsonTextToTensorData(parsed(text), datatype, 2, 'input "x"', text.startsWith('[[') ? [2, 1] : undefined),
          new RegExp(`: input "x": element 1 \\(a number literal beyond -?1\\.7976931348623157e308, read as -?Infinity\\) is beyond the range of ${datatype}$`), `${datatype} ${text.slice(0, 20)}`);
      }
    }
  });

  it('the exact second reading (lossless-json, taken for 64-bit integers) refuses them alike', () => {
    // There a long integer literal is a BigInt, and Number() of it the same infinity.
    for (const text of [`[1, 1${'0'.repeat(400)}]`, '[1, 1e400]']) {
      assert.throws(() => jsonTextToTensorData(parseJsonExact(text), 'FP64', 2, 'input "x"'), /input "x": element 1 \(a number literal beyond 1\.7976931348623157e308, read as Infinity\) is beyond the range of FP64/, text.slice(0, 12));
    }
  });

  it('the largest double is accepted for FP64 and refused for FP32, as before', () => {
    assert.deepEqual(jsonTextToTensorData(parsed(`[${MAX_DOUBLE}, -${MAX_DOUBLE}]`), 'FP64', 2, 'x'), Float64Array.from([Number.MAX_VALUE, -Number.MAX_VALUE]));
    assert.throws(() => jsonTextToTensorData(parsed(`[0, ${MAX_DOUBLE}]`), 'FP32', 2, 'input "x"'), /input "x": element 1 \(1\.7976931348623157e\+308\) is beyond the range of FP32/);
  });

  it('integer and boolean datatypes refuse them as not a value of the type, showing Infinity (not null)', () => {
    for (const datatype of ['INT8', 'UINT8', 'INT32', 'UINT32', 'INT64', 'UINT64', 'BOOL'] as const) {
      assert.throws(() => jsonTextToTensorData(parsed('[0, 1e400]'), datatype, 2, 'input "x"'), new RegExp(`input "x": element 1 \\(Infinity\\) is not a valid ${datatype} value`), datatype);
    }
  });

  it('JS values (dataframe cells, bench inputs) keep an infinity', () => {
    assert.deepEqual(jsonToTensorData([1, Infinity, -Infinity], 'FP64', 3, 'x'), Float64Array.from([1, Infinity, -Infinity]));
    assert.deepEqual(jsonToTensorData([[Infinity], [-Infinity]], 'FP32', 2, 'x', [2, 1]), Float32Array.from([Infinity, -Infinity]));
    assert.deepEqual(jsonToTensorData([Infinity], 'FP16', 1, 'x'), Uint16Array.from([0x7c00]));
  });

  it('an OIP JSON body (REST, the binary extension\'s header, batch lines) refuses one in its data or its parameters', () => {
    const body = (data: string, parameters = '{}') => parsed(`{"inputs": [{"name": "IN", "datatype": "FP64", "shape": [3], "data": ${data}}], "parameters": ${parameters}}`);
    assert.deepEqual(parseInferBody(body(`[1, ${MAX_DOUBLE}, 5e-324]`), 'm', undefined).inputs[0]!.data, Float64Array.from([1, Number.MAX_VALUE, 5e-324]));
    assert.throws(() => parseInferBody(body('[1, 2, -1e400]'), 'm', undefined), /input "IN": element 2 \(a number literal beyond -1\.7976931348623157e308, read as -Infinity\) is beyond the range of FP64/);
    assert.throws(() => parseInferBody(body('[1, 2, 3]', '{"temperature": 1e400}'), 'm', undefined), /request: parameter "temperature" is a number literal beyond the range of a double/);
    assert.deepEqual(parseParameters(parsed('{"t": 0.5, "u": -5e-324}'), 'request'), { t: 0.5, u: -5e-324 });
    assert.throws(() => parseParameters(parsed('{"t": -1e999}'), 'input "IN"'), /input "IN": parameter "t" is a number literal beyond the range of a double/);
  });
});
