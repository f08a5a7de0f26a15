/** The batch engine's time slicer: waiting I/O runs between slices of a long loop, never inside one. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapSliced, TimeSlicer } from '../../src/batch/time-slicer.js';

const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('TimeSlicer', () => {
  // `done`: items finished when the waiting callback ran. 40 items of 0.1 ms against 0.5 ms slices: the loop
  // yields several times, the first possibly before any item when the machine stalled since the slicer was made.
  it('lets a callback that was waiting run part-way through a long map, and keeps the results in order', async () => {
    let ranAt = -1;
    let done = 0;
    setImmediate(() => { ranAt = done; });
    const out = await mapSliced(Array.from({ length: 40 }, (_, i) => i), (x) => {
      busy(0.1);
      done++;
      return x * 2;
    }, new TimeSlicer(0.5));
    assert.deepEqual(out, Array.from({ length: 40 }, (_, i) => i * 2));
    assert.ok(ranAt >= 0 && ranAt < 40, `the waiting callback ran after ${ranAt} of 40 items`);
  });

  it('without a slicer the loop runs through: the callback waits for its end', async () => {
    let ranAt = -1;
    let done = 0;
    setImmediate(() => { ranAt = done; });
    await mapSliced(Array.from({ length: 40 }, (_, i) => i), (x) => {
      busy(0.1);
      done++;
      return x;
    }, undefined);
    await new Promise((r) => setImmediate(r));
    assert.equal(ranAt, 40);
  });

  it('pauses only after its slice is used up', () => {
    const slicer = new TimeSlicer(1000);
    assert.equal(slicer.pause(), undefined);
    assert.ok(new TimeSlicer(0).pause() instanceof Promise);
  });
});
