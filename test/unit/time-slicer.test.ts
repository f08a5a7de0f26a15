/** The batch engine's time slicer: waiting I/O runs between slices of a long loop, never inside one. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapSliced, TimeSlicer } from '../../src/batch/time-slicer.js';

const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('TimeSlicer', () => {
  it('lets a callback that was waiting run part-way through a long map, and keeps the results in order', async () => {
    let ranAt = -1;
    let index = 0;
    setImmediate(() => { ranAt = index; });
    const out = await mapSliced(Array.from({ length: 40 }, (_, i) => i), (x) => {
      index = x;
      busy(0.1);
      return x * 2;
    }, new TimeSlicer(0.5));
    assert.deepEqual(out, Array.from({ length: 40 }, (_, i) => i * 2));
    assert.ok(ranAt > 0 && ranAt < 39, `the waiting callback ran at item ${ranAt}`);
  });

  it('without a slicer the loop runs through: the callback waits for its end', async () => {
    let ranAt = -1;
    let index = 0;
    setImmediate(() => { ranAt = index; });
    await mapSliced(Array.from({ length: 40 }, (_, i) => i), (x) => {
      index = x;
      busy(0.1);
      return x;
    }, undefined);
    await new Promise((r) => setImmediate(r));
    assert.equal(ranAt, 39);
  });

  it('pauses only after its slice is used up', () => {
    const slicer = new TimeSlicer(1000);
    assert.equal(slicer.pause(), undefined);
    assert.ok(new TimeSlicer(0).pause() instanceof Promise);
  });
});
