/** Binary tensor data parsing without a server: zero-copy views, alignment copies, raw requests. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { ModelConfig } from '../../src/repository/model-config.js';
import { parseBinaryInferBody, parseRawInferBody } from '../../src/protocols/oip-http/oip-binary-codec.js';

function body(header: unknown, pad: number, data: Uint8Array): { buffer: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header) + ' '.repeat(pad));
  return { buffer: Buffer.concat([json, data]), headerLength: json.length };
}

const floats = Float32Array.from([1.5, -2, 3.25, 1e-3]);
const header = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }] };

it('an aligned binary input is a view over the body, not a copy', () => {
  const json = JSON.stringify(header).length;
  const { buffer, headerLength } = body(header, (8 - (json % 8)) % 8, new Uint8Array(floats.buffer));
  const request = parseBinaryInferBody(buffer, headerLength, 'm', undefined);
  const data = request.inputs[0]!.data as Float32Array;
  assert.deepEqual(Array.from(data), Array.from(floats));
  assert.equal(data.buffer, buffer.buffer);
  assert.equal(data.byteOffset, buffer.byteOffset + headerLength);
});

it('a misaligned binary input is copied once into an aligned buffer', () => {
  const json = JSON.stringify(header).length;
  const { buffer, headerLength } = body(header, ((8 - (json % 8)) % 8) + 1, new Uint8Array(floats.buffer));
  const data = parseBinaryInferBody(buffer, headerLength, 'm', undefined).inputs[0]!.data as Float32Array;
  assert.deepEqual(Array.from(data), Array.from(floats));
  assert.notEqual(data.buffer, buffer.buffer);
});

const config = (data_type: string, dims: number[], max_batch_size: number) =>
  ({ name: 'm', max_batch_size, input: [{ name: 'x', data_type, dims }], output: [] }) as unknown as ModelConfig;

it('raw requests deduce the one variable dimension and batch 1', () => {
  const raw = Buffer.from(new Float64Array([1, 2, 3, 4, 5, 6]).buffer);
  const request = parseRawInferBody(raw, config('FP64', [-1], 4), 'm', undefined);
  assert.deepEqual(request.inputs[0]!.shape, [1, 6]);
  assert.equal(request.parameters?.binary_data_output, true);
  assert.deepEqual(parseRawInferBody(raw, config('FP64', [2, -1], 0), 'm', undefined).inputs[0]!.shape, [2, 3]);
  assert.throws(() => parseRawInferBody(raw, config('FP64', [-1, -1], 0), 'm', undefined), /more than one variable dimension/);
  assert.throws(() => parseRawInferBody(raw, config('FP64', [4], 0), 'm', undefined), /not a whole number|does not match shape/);
});

it('a raw BYTES body is one element, length-prefixed or as it is', () => {
  const prefixed = Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from('abc')]);
  const element = (b: Buffer) => Buffer.from((parseRawInferBody(b, config('BYTES', [1], 0), 'm', undefined).inputs[0]!.data as Uint8Array[])[0]!).toString();
  assert.equal(element(prefixed), 'abc');
  assert.equal(element(Buffer.from('plain image bytes')), 'plain image bytes');
  assert.throws(() => parseRawInferBody(prefixed, config('BYTES', [2], 0), 'm', undefined), /shape \[1\]/);
});
