/** Part names sort in input order: fixed-width numbers, and a number too wide for its field refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { partName } from '../../../src/batch/input-source.js';

test('part names sort as their positions do, up to the widest number each field holds', () => {
  const positions: [number, number, number][] = [[0, 0, 0], [0, 0, 9], [0, 0, 10], [0, 0, 99_999], [0, 1, 0], [0, 999_999, 99_999], [1, 0, 0], [99_999, 0, 0]];
  const names = positions.map(([f, b, p]) => partName(f, b, p));
  assert.deepEqual([...names].sort(), names);
  assert.equal(partName(3, 12, 7), 'f00003-b000012-p00007');
});

test('a number too wide for its field is refused with the option that makes it smaller', () => {
  assert.throws(() => partName(0, 0, 100_000), { code: 'VIREO_ERR_BATCH_INPUT_INVALID', message: /--part-rows/ });
  assert.throws(() => partName(0, 1_000_000, 0), { code: 'VIREO_ERR_BATCH_INPUT_INVALID', message: /--block-size/ });
  assert.throws(() => partName(100_000, 0, 0), { code: 'VIREO_ERR_BATCH_INPUT_INVALID' });
});
