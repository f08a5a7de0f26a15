/** WakeTimer: sub-millisecond waits are not rounded up to a 1 ms timer; re-arming and disarming. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nowNs } from '../../../src/scheduler/recorder.js';
import { WakeTimer } from '../../../src/scheduler/wake-timer.js';

describe('WakeTimer', () => {
  it('a sub-millisecond wait fires on the next event-loop turn, before any timer', async () => {
    const events: string[] = [];
    const timer = new WakeTimer(() => events.push('wake'));
    setTimeout(() => events.push('timer'), 0);
    const now = nowNs();
    timer.arm(now + 200_000, now);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(events[0], 'wake');
  });

  it('longer waits use a timer; disarm cancels; arming the same time twice fires once', async () => {
    let fired = 0;
    const timer = new WakeTimer(() => { fired++; });
    const now = nowNs();
    timer.arm(now + 5e6, now);
    timer.arm(now + 5e6, now);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fired, 1);
    timer.arm(nowNs() + 5e6, nowNs());
    timer.disarm();
    timer.arm(Infinity, nowNs());
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fired, 1);
  });
});
