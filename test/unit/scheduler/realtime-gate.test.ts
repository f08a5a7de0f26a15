/**
 * The hold on batch-job batches (src/scheduler/realtime-gate.ts), on explicit times: a batch waits
 * while a real-time execution runs and is woken when the last one ends; a hold runs out after
 * MAX_HOLD_MS, and then no batch is held again until real-time work pauses; a job whose batches are
 * short is never held.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackgroundHold, MAX_HOLD_MS, MIN_HELD_BATCH_MS, RealtimeGate } from '../../../src/scheduler/realtime-gate.js';

const ms = (n: number) => n * 1e6;
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('RealtimeGate and BackgroundHold', () => {
  it('lets a batch start at once while no real-time execution runs', () => {
    const hold = new BackgroundHold(() => assert.fail('nothing to wake'), new RealtimeGate());
    assert.equal(hold.check(ms(5)), undefined);
  });

  it('holds a batch while real-time executions run and wakes the scheduler once the last one ends', async () => {
    const gate = new RealtimeGate();
    let woken = 0;
    const hold = new BackgroundHold(() => woken++, gate);
    gate.begin();
    gate.begin();
    assert.equal(hold.check(ms(10)), ms(10 + MAX_HOLD_MS), 'held until the bound at the latest');
    assert.equal(hold.check(ms(11)), ms(10 + MAX_HOLD_MS), 'the bound counts from the first hold');
    gate.end();
    await turn();
    assert.equal(woken, 0, 'one real-time execution still runs');
    gate.end();
    assert.equal(woken, 0, 'woken on the next turn, after the real-time answers of this one');
    await turn();
    assert.equal(woken, 1);
    assert.equal(hold.check(ms(12)), undefined);
  });

  it('after a hold ran out, holds nothing more until real-time work pauses', () => {
    const gate = new RealtimeGate();
    const hold = new BackgroundHold(() => undefined, gate);
    gate.begin();
    assert.equal(hold.check(ms(0)), ms(MAX_HOLD_MS));
    assert.equal(hold.check(ms(MAX_HOLD_MS)), undefined, 'the bound starts the batch');
    assert.equal(hold.check(ms(MAX_HOLD_MS + 1)), undefined, 'continuous real-time work: the next batch is not held');
    gate.end();
    assert.equal(hold.check(ms(MAX_HOLD_MS + 2)), undefined);
    gate.begin();
    assert.equal(hold.check(ms(MAX_HOLD_MS + 3)), ms(2 * MAX_HOLD_MS + 3), 'after the pause, held again');
  });

  it('forgets a closed scheduler', async () => {
    const gate = new RealtimeGate();
    let woken = 0;
    const hold = new BackgroundHold(() => woken++, gate);
    gate.begin();
    hold.check(ms(0));
    hold.close();
    gate.end();
    await turn();
    assert.equal(woken, 0);
  });

  it('never holds a job whose batches run shorter than MIN_HELD_BATCH_MS, and holds it again once they run longer', () => {
    const gate = new RealtimeGate();
    const hold = new BackgroundHold(() => undefined, gate);
    gate.begin();
    hold.observe(MIN_HELD_BATCH_MS / 10);
    assert.equal(hold.check(ms(0)), undefined, 'short batches start beside real-time work');
    for (let i = 0; i < 20; i++) hold.observe(MIN_HELD_BATCH_MS * 10);
    assert.equal(hold.check(ms(1)), ms(1 + MAX_HOLD_MS), 'long batches wait for a pause again');
  });
});
