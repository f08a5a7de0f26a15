/** Who may use the model control API, and which paths an upload may name. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { checkControlAccess, isLoopbackAddress } from '../../src/server/control-access.js';
import { relativeSegments } from '../../src/repository/safe-path.js';
import { checkModelName, uploadSegments } from '../../src/repository/model-upload.js';

it('recognises loopback peers in every spelling a frontend sees', () => {
  for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', 'ipv4:127.0.0.1:5000', 'ipv6:[::1]:5000']) assert.equal(isLoopbackAddress(a), true, a);
  for (const a of [undefined, '', '10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', 'ipv4:192.0.2.2:5000', 'ipv6:[fd00::2]:5000', '::2', 'localhost']) assert.equal(isLoopbackAddress(a), false, String(a));
});

it('refuses the control API in none mode, and remote peers unless allowed', () => {
  assert.throws(() => checkControlAccess('none', '127.0.0.1', true), /disabled/);
  assert.throws(() => checkControlAccess('explicit', '10.0.0.1', false), (e: any) => e.code === 'VIREO_ERR_PERMISSION_DENIED');
  assert.doesNotThrow(() => checkControlAccess('explicit', '10.0.0.1', true));
  assert.doesNotThrow(() => checkControlAccess('poll', '::1', false));
});

it('accepts only relative, plain upload paths under a version directory', () => {
  assert.deepEqual(uploadSegments('1/model.onnx'), ['1', 'model.onnx']);
  assert.deepEqual(uploadSegments('12/sub/weights.bin'), ['12', 'sub', 'weights.bin']);
  for (const bad of ['', '/1/model.onnx', 'C:/x', '1/../x', '1/./x', '..', '1//x', '1\\\\x', '1/x\\0', '01/model.onnx', 'model.onnx', '1/.env']) {
    assert.throws(() => uploadSegments(bad), (e: any) => e.code === 'VIREO_ERR_PATH_INVALID', JSON.stringify(bad));
  }
  assert.throws(() => relativeSegments('a/'.repeat(17) + 'b', 'x'), /more than 16 segments/);
});

it('accepts model names that are one safe path segment', () => {
  for (const ok of ['simple', 'ocr_det', 'a.b-c', '0model']) assert.doesNotThrow(() => checkModelName(ok), ok);
  for (const bad of ['', '.', '..', '.hidden', 'a/b', 'a..b', 'a b', 'x'.repeat(256)]) assert.throws(() => checkModelName(bad), /invalid model name/, bad);
});
