/** A call's time bound: the tighter of its batch's timeout and the instance's bound, 0 meaning none. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callTimeLimit } from '../../src/backends/backend.js';

test('the tighter bound wins, and an absent or zero bound bounds nothing', () => {
  const batch = (timeoutMs?: number) => ({ items: [1], ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  assert.equal(callTimeLimit(undefined, undefined), undefined);
  assert.equal(callTimeLimit(batch(), 0), undefined);
  assert.equal(callTimeLimit(batch(0), 0), undefined);
  assert.equal(callTimeLimit(batch(250), undefined), 250);
  assert.equal(callTimeLimit(batch(250), 0), 250);
  assert.equal(callTimeLimit(undefined, 3000), 3000);
  assert.equal(callTimeLimit(batch(0), 3000), 3000);
  assert.equal(callTimeLimit(batch(250), 3000), 250);
  assert.equal(callTimeLimit(batch(5000), 3000), 3000);
});
