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

  it('a wrong element count still fails', () => {
    assert.throws(() => jsonToTensorData([1, 2, 3], 'FP32', 4, 'x'), /3 elements but the shape needs 4/);
  });
});
