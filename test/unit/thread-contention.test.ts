/**
 * The rule that spreads light models over shared threads (backends/thread-contention.ts). Expected
 * values worked out from the rule: a running share with weight 1/16 per call, trusted after 16 calls
 * on the thread, above 0.25 to spread. After n contended calls from 0 the share is 1 − (15/16)^n.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SPREAD_CONTENTION, ThreadContention } from '../../src/backends/thread-contention.js';

const after = (pattern: boolean[]) => {
  const contention = new ThreadContention();
  return pattern.map((contended) => (contention.observe(contended), contention.contended));
};

it('contention is not trusted before 16 calls on the thread, however contended', () => {
  const verdicts = after(Array.from({ length: 17 }, () => true));
  assert.deepEqual(verdicts, [...new Array(15).fill(false), true, true]);
});

it('the share follows 1 − (15/16)^n and resets with a new home', () => {
  const contention = new ThreadContention();
  for (let n = 1; n <= 20; n++) {
    contention.observe(true);
    assert.ok(Math.abs(contention.share - (1 - (15 / 16) ** n)) < 1e-12, `after ${n} calls`);
  }
  contention.reset();
  assert.equal(contention.share, 0);
  contention.observe(true);
  assert.equal(contention.contended, false, 'counting starts again on the new thread');
});

it('one contended call in five stays under the bound; one in two goes over', () => {
  const oneInFive = after(Array.from({ length: 200 }, (_, i) => i % 5 === 0));
  assert.equal(oneInFive.some(Boolean), false, `a steady 20 % share never exceeds ${SPREAD_CONTENTION}`);
  const oneInTwo = after(Array.from({ length: 40 }, (_, i) => i % 2 === 0));
  assert.equal(oneInTwo.indexOf(true), 15, 'trusted at the 16th call, by then ≈ 0.5');
});
