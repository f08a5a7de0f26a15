/** The batch planner alone: Triton's dynamic-batching decisions on hand-built queues. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchPolicy, choosePlan } from '../../../src/scheduler/batch-planner.js';
import { PendingRequest } from '../../../src/scheduler/pending-request.js';

let nextId = 0;
/** A queued request of `items` rows that arrived at `arrivalNs`; `key` stands for its non-batch shape. */
function req(items: number, arrivalNs = 0, key = 'a'): PendingRequest & { id: number } {
  const r = new PendingRequest([], [], items, key, undefined, arrivalNs, () => {}, () => {}) as PendingRequest & { id: number };
  r.id = nextId++;
  return r;
}
const ids = (plan: ReturnType<typeof choosePlan>) => plan.requests?.map((r) => (r as PendingRequest & { id: number }).id);
const MS = 1e6;

describe('batchPolicy', () => {
  it('sorts, deduplicates and bounds preferred sizes; none means max_batch_size', () => {
    assert.deepEqual(batchPolicy(8, [8, 2, 4, 2, 16, 0], 100).preferred, [2, 4, 8]);
    assert.deepEqual(batchPolicy(8, [], 100), { maxBatchSize: 8, preferred: [8], maxQueueDelayNs: 100_000 });
  });
});

describe('choosePlan', () => {
  it('without dynamic batching takes the head alone', () => {
    const q = [req(1), req(1)];
    assert.deepEqual(ids(choosePlan(q, undefined, 0, false)), [q[0]!.id]);
  });

  it('on an empty queue waits forever', () => {
    assert.deepEqual(choosePlan([], batchPolicy(4, [], 0), 0, false), { wait: Infinity });
  });

  it('with no delay sends what is queued at once', () => {
    const q = [req(1), req(1), req(1)];
    assert.equal(choosePlan(q, batchPolicy(8, [], 0), 0, false).requests?.length, 3);
  });

  it('waits for more until the oldest request has waited max_queue_delay', () => {
    const q = [req(1, 0), req(1, 1 * MS)];
    const policy = batchPolicy(8, [], 5000);
    assert.deepEqual(choosePlan(q, policy, 2 * MS, false), { wait: 5 * MS });
    assert.equal(choosePlan(q, policy, 5 * MS, false).requests?.length, 2);
  });

  it('a flush (closing) sends at once', () => {
    const q = [req(1, 0)];
    assert.equal(choosePlan(q, batchPolicy(8, [], 1e6), 0, true).requests?.length, 1);
  });

  it('a full batch goes at once and never exceeds max_batch_size', () => {
    const q = [req(3), req(3), req(3)];
    const plan = choosePlan(q, batchPolicy(8, [], 1e6), 0, false);
    assert.deepEqual(ids(plan), [q[0]!.id, q[1]!.id]);
  });

  it('any reachable preferred size goes at once, the largest one reachable', () => {
    const q = [req(1), req(1), req(1), req(1), req(1)];
    const plan = choosePlan(q, batchPolicy(16, [2, 4, 8], 1e9), 0, false);
    assert.deepEqual(ids(plan), q.slice(0, 4).map((r) => r.id));
    const three = [req(1), req(1), req(1)];
    assert.equal(choosePlan(three, batchPolicy(16, [2, 4, 8], 1e9), 0, false).requests?.length, 2);
  });

  it('below every preferred size it waits, then sends everything after the delay', () => {
    const q = [req(1, 0), req(1, 0), req(1, 0)];
    const policy = batchPolicy(16, [4, 8], 1000);
    assert.deepEqual(choosePlan(q, policy, 0, false), { wait: 1000 * 1000 });
    assert.equal(choosePlan(q, policy, 1 * MS, false).requests?.length, 3);
  });

  it('after the delay the batch may grow past the largest preferred size up to max_batch_size', () => {
    const q = Array.from({ length: 10 }, () => req(1, 0));
    const policy = batchPolicy(8, [4], 1000);
    assert.equal(choosePlan(q, policy, 0, false).requests?.length, 4, 'before the delay: the preferred size');
    assert.equal(choosePlan(q, policy, 10 * MS, false).requests?.length, 8, 'after the delay: max_batch_size');
  });

  it('a request that overshoots the largest preferred size closes the batch below it', () => {
    const q = [req(2), req(1), req(3)];
    const plan = choosePlan(q, batchPolicy(16, [4], 1e9), 0, false);
    assert.deepEqual(ids(plan), [q[0]!.id, q[1]!.id]);
  });

  it('counts a request carrying its own batch dimension as its item count', () => {
    const q = [req(3), req(5), req(1)];
    assert.deepEqual(ids(choosePlan(q, batchPolicy(8, [8], 1e9), 0, false)), [q[0]!.id, q[1]!.id]);
  });

  it('a request with another shape ends the batch and the batch goes at once', () => {
    const q = [req(1, 0, 'a'), req(1, 0, 'b'), req(1, 0, 'a')];
    const plan = choosePlan(q, batchPolicy(8, [], 1e9), 0, false);
    assert.deepEqual(ids(plan), [q[0]!.id]);
  });

  it('the head is always included even when it alone exceeds the preferred sizes', () => {
    const q = [req(6, 0), req(1, 0)];
    assert.deepEqual(ids(choosePlan(q, batchPolicy(8, [4], 1e9), 0, false)), [q[0]!.id]);
  });

  it('measures the delay from the oldest request in the batch, not the head', () => {
    // A new urgent request heads the queue; an older one behind it has already waited out the delay.
    const q = [req(1, 10 * MS), req(1, 0)];
    assert.equal(choosePlan(q, batchPolicy(8, [], 5000), 6 * MS, false).requests?.length, 2);
  });
});
