/** The eviction plan of the memory budget: least recently used idle models first, only as many as needed. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { planEvictions } from '../../src/repository/memory-budget.js';

const model = (name: string, bytes: number, lastUse: number, idle = true) => ({ name, bytes, lastUse, idle });

it('evicts nothing when the incoming model fits', () => {
  assert.deepEqual(planEvictions([model('a', 100, 1), model('b', 100, 2)], 300, 100), { evict: [], fits: true });
});

it('evicts least recently used first, and stops once it fits', () => {
  const resident = [model('a', 100, 5), model('b', 100, 2), model('c', 100, 9), model('d', 100, 1)];
  assert.deepEqual(planEvictions(resident, 400, 100), { evict: ['d'], fits: true });
  assert.deepEqual(planEvictions(resident, 400, 250), { evict: ['d', 'b', 'a'], fits: true });
});

it('never evicts a busy model, and says when nothing idle makes room', () => {
  const resident = [model('a', 100, 1, false), model('b', 100, 2), model('c', 100, 3, false)];
  assert.deepEqual(planEvictions(resident, 300, 100), { evict: ['b'], fits: true });
  assert.deepEqual(planEvictions(resident, 300, 150), { evict: ['b'], fits: false });
});

it('a model alone larger than the budget never fits', () => {
  assert.deepEqual(planEvictions([model('a', 10, 1)], 100, 101), { evict: ['a'], fits: false });
});
