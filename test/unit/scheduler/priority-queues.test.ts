/** Priority queues alone: dispatch order, DELAY placement, queue-size limits, timeout rules. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PendingRequest } from '../../../src/scheduler/pending-request.js';
import { DEFAULT_POLICY, PriorityQueues, queueTimeoutUs, toQueuePolicy, type QueuePolicy } from '../../../src/scheduler/priority-queues.js';

const policy = (overrides: Partial<QueuePolicy> = {}): QueuePolicy => ({ ...DEFAULT_POLICY, unconfigured: false, ...overrides });

function req(level: number, tag: string): PendingRequest & { tag: string } {
  const r = new PendingRequest([], [], 1, 'k', undefined, 0, () => {}, () => {}) as PendingRequest & { tag: string };
  r.level = level;
  r.tag = tag;
  return r;
}
const order = (q: PriorityQueues) => [...q.pending()].map((r) => (r as PendingRequest & { tag: string }).tag);

describe('PriorityQueues', () => {
  it('yields by level, FIFO within a level', () => {
    const q = new PriorityQueues([policy(), policy(), policy()]);
    for (const [level, tag] of [[2, 'c1'], [0, 'a1'], [1, 'b1'], [0, 'a2'], [2, 'c2']] as const) q.push(req(level, tag));
    assert.deepEqual(order(q), ['a1', 'a2', 'b1', 'c1', 'c2']);
    assert.equal(q.size, 5);
  });

  it('skips requests that left the queue and keeps size true', () => {
    const q = new PriorityQueues([policy()]);
    const rs = ['x', 'y', 'z'].map((t) => req(0, t));
    for (const r of rs) q.push(r);
    q.forget(rs[1]!);
    rs[1]!.transition('EXECUTING');
    q.forget(rs[0]!);
    rs[0]!.fail(new Error('x') as never);
    assert.deepEqual(order(q), ['z']);
    assert.equal(q.size, 1);
  });

  it('compacts a long dead prefix without losing live requests', () => {
    const q = new PriorityQueues([policy()]);
    const rs = Array.from({ length: 300 }, (_, i) => req(0, String(i)));
    for (const r of rs) q.push(r);
    for (const r of rs.slice(0, 250)) { q.forget(r); r.transition('EXECUTING'); }
    assert.deepEqual(order(q), rs.slice(250).map((r) => r.tag));
    assert.equal(q.size, 50);
  });

  it('DELAY puts an expired request behind its own level but ahead of lower levels', () => {
    const q = new PriorityQueues([policy(), policy()]);
    const late = req(0, 'late');
    for (const r of [late, req(0, 'a'), req(1, 'low')]) q.push(r);
    q.delay(late);
    q.push(req(0, 'b'));
    assert.deepEqual(order(q), ['a', 'b', 'late', 'low']);
    assert.equal(q.size, 4);
    q.forget(late);
    late.transition('EXECUTING');
    assert.deepEqual(order(q), ['a', 'b', 'low']);
    assert.equal(q.size, 3);
  });

  it('expire: REJECT levels hand due requests over, DELAY levels move them back, and the next deadline comes back', () => {
    const q = new PriorityQueues([policy({ timeoutAction: 'REJECT' }), policy({ timeoutAction: 'DELAY' })]);
    const due = (level: number, tag: string, deadlineNs: number) => Object.assign(req(level, tag), { deadlineNs });
    for (const r of [due(0, 'reject-at-10', 10), due(0, 'keep-30', 30), due(1, 'delay-at-20', 20), due(1, 'never', Infinity)]) q.push(r);
    const handed: string[] = [];
    const timedOut = (r: PendingRequest) => {
      handed.push((r as PendingRequest & { tag: string }).tag);
      q.forget(r);
      r.fail(new Error('timeout') as never);
    };
    assert.equal(q.expire(5, timedOut), 10, 'nothing due before the earliest deadline');
    assert.deepEqual(handed, []);
    assert.equal(q.expire(25, timedOut), 30);
    assert.deepEqual(handed, ['reject-at-10']);
    assert.deepEqual(order(q), ['keep-30', 'never', 'delay-at-20'], 'the DELAY request waits behind its level');
    assert.equal(q.expire(26, timedOut), 30, 'before the next deadline the queue is not scanned again');
    assert.equal(q.expire(31, timedOut), Infinity);
    assert.deepEqual(handed, ['reject-at-10', 'keep-30']);
    q.push(due(0, 'new-at-40', 40));
    assert.equal(q.expire(32, timedOut), 40, 'a request pushed later brings its deadline forward');
  });

  it('max_queue_size is per level and counts delayed requests', () => {
    const q = new PriorityQueues([policy({ maxQueueSize: 2 }), policy()]);
    const first = req(0, 'a');
    q.push(first);
    assert.equal(q.isFull(0), false);
    q.push(req(0, 'b'));
    assert.equal(q.isFull(0), true);
    q.delay(first);
    assert.equal(q.isFull(0), true);
    assert.equal(q.isFull(1), false);
  });
});

describe('queueTimeoutUs', () => {
  it('without any queue policy honours the request timeout', () => {
    assert.equal(queueTimeoutUs(DEFAULT_POLICY, 500), 500);
    assert.equal(queueTimeoutUs(DEFAULT_POLICY, undefined), 0);
  });

  it('a configured policy without override ignores the request timeout', () => {
    const p = toQueuePolicy({ timeout_action: 'REJECT', default_timeout_microseconds: 1000, allow_timeout_override: false, max_queue_size: 0 });
    assert.equal(queueTimeoutUs(p, 10), 1000);
    const none = toQueuePolicy({ timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: false, max_queue_size: 0 });
    assert.equal(queueTimeoutUs(none, 10), 0);
  });

  it('with override a request may shorten the default but never lengthen it', () => {
    const p = policy({ defaultTimeoutUs: 1000, allowTimeoutOverride: true });
    assert.equal(queueTimeoutUs(p, 10), 10);
    assert.equal(queueTimeoutUs(p, 5000), 1000);
    assert.equal(queueTimeoutUs(p, 0), 1000);
    assert.equal(queueTimeoutUs(policy({ allowTimeoutOverride: true }), 5000), 5000, 'no default: any timeout is shorter');
  });
});
