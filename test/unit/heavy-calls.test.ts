/**
 * The rule that moves an instance off a shared thread (backends/heavy-calls.ts), on call times
 * recorded from the real `simple` model (a cold first two calls) and from a model that stays slow.
 * Expected verdicts worked out by hand from the rule: the first 3 calls are left out, then a
 * running mean (0.8 old, 0.2 new) over at least 5 calls must exceed 2 ms.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { HEAVY_EXECUTE_MS, HeavyCalls } from '../../src/backends/heavy-calls.js';

const verdicts = (times: number[]) => {
  const calls = new HeavyCalls();
  return times.map((ms) => (calls.observe(ms), calls.heavy));
};

it("a tiny model's cold first calls do not make it heavy", () => {
  // `simple` on a shared thread: 10.4 and 5.4 ms, then ≈ 0.2 ms. Counted in, the old mean was
  // 10.4·0.8³ + … ≈ 5.5 ms at the fourth call, over the bound: it moved.
  const simple = [10.4, 5.42, 0.26, 0.24, 0.2, 0.36, 0.42, 0.19, 0.2, 0.21, 0.25, 0.2];
  assert.deepEqual(verdicts(simple), simple.map(() => false));
});

it('a model that stays slow is heavy once five calls after the cold ones are in the mean', () => {
  const slow = Array.from({ length: 10 }, () => 3);
  // Calls 1–3 cold; the mean is 3 ms from call 4 on; trusted from call 8.
  assert.deepEqual(verdicts(slow), [false, false, false, false, false, false, false, true, true, true]);
});

it('the mean follows the calls after the cold ones, and the bound is strict', () => {
  const calls = new HeavyCalls();
  for (const ms of [50, 50, 50]) calls.observe(ms);
  assert.equal(calls.meanMs, 0, 'cold calls are not in the mean');
  calls.observe(1);
  calls.observe(6);
  assert.ok(Math.abs(calls.meanMs - (0.8 * 1 + 0.2 * 6)) < 1e-12);
  const atBound = new HeavyCalls();
  for (let i = 0; i < 20; i++) atBound.observe(HEAVY_EXECUTE_MS);
  assert.equal(atBound.heavy, false, 'exactly the bound is not above it');
});
