/** WakeTimer: sub-millisecond waits are not rounded up to a 1 ms timer; re-arming and disarming. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nowNs } from '../../../src/scheduler/recorder.js';
import { WakeTimer } from '../../../src/scheduler/wake-timer.js';

describe('WakeTimer', () => {
  it('a sub-millisecond wait uses the next event-loop turn (an Immediate), not a 1 ms timer', async () => {
    const count = (type: string) => process.getActiveResourcesInfo().filter((t) => t === type).length;
    let fired = false;
    const timer = new WakeTimer(() => { fired = true; });
    const [timeouts, immediates] = [count('Timeout'), count('Immediate')];
    const now = nowNs();
    timer.arm(now + 200_000, now);
    assert.equal(count('Immediate'), immediates + 1);
    assert.equal(count('Timeout'), timeouts);
    await new Promise((r) => setImmediate(r));
    assert.equal(fired, true);
    timer.arm(nowNs() + 5e6, nowNs());
    assert.equal(count('Timeout'), timeouts + 1, 'a 5 ms wait uses a timer');
    timer.disarm();
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
