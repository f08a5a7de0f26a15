/** V1 REST body conversions without a server: shapes from nesting, b64 BYTES, both formats. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { ModelMetadata } from '../../src/core/inference.js';
import { encodePredictResponse, parsePredictBody } from '../../src/protocols/v1-http/v1-codec.js';

const one: ModelMetadata = { name: 'm', versions: ['1'], platform: 'p', inputs: [{ name: 'x', datatype: 'INT32', shape: [-1, 2] }], outputs: [] };
const two: ModelMetadata = { ...one, inputs: [{ name: 'a', datatype: 'FP32', shape: [-1, 2] }, { name: 'b', datatype: 'BYTES', shape: [-1, 1] }] };

it('row format stacks instances along a new batch dimension', () => {
  const { request, format } = parsePredictBody({ instances: [[1, 2], [3, 4], [5, 6]] }, one, undefined);
  assert.equal(format, 'row');
  assert.deepEqual(request.inputs[0]!.shape, [3, 2]);
  assert.deepEqual(Array.from(request.inputs[0]!.data as Int32Array), [1, 2, 3, 4, 5, 6]);
});

it('multi-input rows are objects; b64 values decode to bytes', () => {
  const { request } = parsePredictBody({ instances: [{ a: [1, 2], b: [{ b64: '//4=' }] }, { a: [3, 4], b: ['t'] }] }, two, '1');
  assert.deepEqual(request.inputs.map((t) => t.shape), [[2, 2], [2, 1]]);
  assert.deepEqual((request.inputs[1]!.data as Uint8Array[]).map((e) => Buffer.from(e).toString('hex')), ['fffe', '74']);
});

it('refuses both formats, ragged arrays, mismatched instances and bare values for multi-input models', () => {
  assert.throws(() => parsePredictBody({ instances: [[1, 2]], inputs: [[1, 2]] }, one, undefined), /both "instances".*and "inputs"/);
  assert.throws(() => parsePredictBody({}, one, undefined), /needs "instances".*or "inputs"/);
  assert.throws(() => parsePredictBody({ inputs: [[1, 2], [3]] }, one, undefined), /not a rectangular/);
  assert.throws(() => parsePredictBody({ instances: [[1, 2], [3, 4, 5]] }, one, undefined), /has shape \[3\] but instances\[0\]/);
  assert.throws(() => parsePredictBody({ instances: [[1, 2]] }, two, undefined), /must be an object keyed by input name/);
});

it('encodes non-UTF-8 and *_bytes BYTES outputs as b64, text as strings, rows per batch item', () => {
  const response = {
    model: 'm', version: '1',
    outputs: [
      { name: 'text', datatype: 'BYTES' as const, shape: [2], data: [Buffer.from('ok'), Uint8Array.from([0xff])] },
      { name: 'raw_bytes', datatype: 'BYTES' as const, shape: [2], data: [Buffer.from('ok'), Buffer.from('no')] },
    ],
  };
  assert.deepEqual(encodePredictResponse(response, 'row'), {
    predictions: [{ text: 'ok', raw_bytes: { b64: 'b2s=' } }, { text: { b64: '/w==' }, raw_bytes: { b64: 'bm8=' } }],
  });
  assert.deepEqual(encodePredictResponse({ ...response, outputs: [response.outputs[0]!] }, 'columnar'), { outputs: ['ok', { b64: '/w==' }] });
});
