import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InflightRequests } from '../../src/core/inflight-requests.js';

test('the recent peak of requests in flight remembers a burst for one window, then follows the load down', () => {
  const inflight = new InflightRequests();
  assert.equal(inflight.recentPeak(0), 0);
  for (let i = 0; i < 4; i++) inflight.begin();
  for (let i = 0; i < 3; i++) inflight.end();
  assert.equal(inflight.current, 1);
  assert.equal(inflight.recentPeak(10), 4, 'the burst is still recent');
  assert.equal(inflight.recentPeak(60), 4, 'one window later it is still within reach');
  assert.equal(inflight.recentPeak(115), 1, 'two windows later only what is in flight now counts');
  inflight.end();
  assert.equal(inflight.recentPeak(400), 0, 'a long quiet spell forgets everything');
});
