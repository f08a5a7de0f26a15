/** The flat-array fast paths of jsonToTensorData give the same results and errors as the general path. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonToTensorData } from '../../src/core/json-tensors.js';

describe('jsonToTensorData fast paths', () => {
  it('flat and nested float data give the same typed array', () => {
    const flat = [0.5, -1.25, 3, 1e-3];
    assert.deepEqual(jsonToTensorData(flat, 'FP32', 4, 'x'), Float32Array.from(flat));
    assert.deepEqual(jsonToTensorData([[0.5, -1.25], [3, 1e-3]], 'FP32', 4, 'x'), Float32Array.from(flat));
    assert.deepEqual(jsonToTensorData(flat, 'FP64', 4, 'x'), Float64Array.from(flat));
  });

  it('a non-number in flat float data is still reported with its index', () => {
    assert.throws(() => jsonToTensorData([1, 2, 'x', 4], 'FP32', 4, 'input "a"'), /input "a": element 2 \("x"\) is not a valid FP32 value/);
  });

  it('flat integers are range-checked per type', () => {
    assert.deepEqual(jsonToTensorData([1, -2, 3], 'INT32', 3, 'x'), Int32Array.from([1, -2, 3]));
    assert.deepEqual(jsonToTensorData([0, 255], 'UINT8', 2, 'x'), Uint8Array.from([0, 255]));
    assert.throws(() => jsonToTensorData([0, 256], 'UINT8', 2, 'x'), /element 1 \(256\) is not a valid UINT8 value/);
    assert.throws(() => jsonToTensorData([1.5, 2], 'INT32', 2, 'x'), /element 0 \(1.5\) is not a valid INT32 value/);
  });

  it('a finite number that the datatype would turn into an infinity is refused, not stored as one', () => {
    // FP32's largest finite value, from its bits (0x7f7fffff), and the first double that rounds past it.
    const maxFloat = new Float32Array(new Uint32Array([0x7f7fffff]).buffer)[0]!;
    const beyond = maxFloat * (1 + 2 ** -24); // halfway to the next power: rounds up to Infinity
    assert.equal(Math.fround(beyond), Infinity);
    assert.deepEqual(jsonToTensorData([maxFloat, -maxFloat], 'FP32', 2, 'x'), Float32Array.from([maxFloat, -maxFloat]));
    for (const data of [[1, 1e39], [[1], [-1e39]]]) {
      assert.throws(() => jsonToTensorData(data, 'FP32', 2, 'input "a"'), /input "a": element 1 \(-?1e\+39\) is beyond the range of FP32/);
    }
    assert.throws(() => jsonToTensorData([beyond], 'FP32', 1, 'x'), /element 0 .* is beyond the range of FP32/);
    // FP64 takes them as they are.
    assert.deepEqual(jsonToTensorData([1e39], 'FP64', 1, 'x'), Float64Array.from([1e39]));
    // FP16: 65504 is its largest finite value; 65520 and above round to infinity (IEEE 754 binary16).
    assert.deepEqual(jsonToTensorData([65504, -65504], 'FP16', 2, 'x'), Uint16Array.from([0x7bff, 0xfbff]));
    assert.throws(() => jsonToTensorData([65520], 'FP16', 1, 'x'), /element 0 \(65520\) is beyond the range of FP16/);
    assert.throws(() => jsonToTensorData([1, -1e6], 'FP16', 2, 'x'), /element 1 \(-1000000\) is beyond the range of FP16/);
    // BF16 shares FP32's exponent: 1e38 is finite, 1e39 is not.
    assert.throws(() => jsonToTensorData([1e39], 'BF16', 1, 'x'), /beyond the range of BF16/);
    assert.equal((jsonToTensorData([1e38], 'BF16', 1, 'x') as Uint16Array)[0]! & 0x7f80, 0x7e80);
  });

  it('a wrong element count still fails', () => {
    assert.throws(() => jsonToTensorData([1, 2, 3], 'FP32', 4, 'x'), /3 elements but the shape needs 4/);
  });
});
