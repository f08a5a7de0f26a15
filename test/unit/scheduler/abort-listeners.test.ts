/**
 * A cancel signal shared by many requests (a gRPC stream's, a batch job's) keeps no listener of a
 * request once that request is answered, whichever way: served, failed by the instance, timed out,
 * cancelled. A listener left behind holds its request, and the request its inputs, until the signal's
 * owner goes: without bound on a long-lived stream. Requests still waiting stay cancellable.
 */
import assert from 'node:assert/strict';
import { getEventListeners, setMaxListeners } from 'node:events';
import { describe, it } from 'node:test';
import type { ModelInstance } from '../../../src/backends/backend.js';
import { VireoError } from '../../../src/core/errors.js';
import type { Tensor } from '../../../src/core/tensor.js';
import { DecoupledRunner } from '../../../src/scheduler/decoupled-runner.js';
import { Scheduler } from '../../../src/scheduler/scheduler.js';
import { FakeInstance, fakeInput, until } from '../../helpers/fake-instance.js';

const REQUESTS = 200;
const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;
const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (error: VireoError) => error.code);
/** One signal for every request of a test; more than 10 listeners at once are expected here, not a leak warning. */
function sharedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** A decoupled instance: each stream sends one response, at once or when the test releases it (-1 fails). */
class FakeStreamInstance {
  readonly signature = { inputs: [], outputs: [] };
  alive = true;
  #gates: (() => void)[] = [];
  constructor(readonly manual = false) {}
  async execute(): Promise<Tensor[]> {
    throw new Error('decoupled: streams only');
  }
  async executeStream(inputs: Tensor[], _outputs: readonly string[], _context: unknown, onResponse: (outputs: Tensor[]) => void, signal: AbortSignal): Promise<void> {
    if (this.manual) await new Promise<void>((release) => { this.#gates.push(release); signal.addEventListener('abort', () => release(), { once: true }); });
    // As a handler's stream does (handler-stream.ts): told to stop, it ends as cancelled.
    if (signal.aborted) throw new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'the client cancelled the stream');
    if ((inputs[0]?.data as Float32Array | undefined)?.[0] === -1) throw new VireoError('VIREO_ERR_BACKEND_EXECUTE', 'failed on purpose');
    onResponse(inputs);
  }
  release(): void {
    this.#gates.shift()!();
  }
  get waiting(): number {
    return this.#gates.length;
  }
  async close(): Promise<void> {}
}

describe('abort listeners on a shared signal', () => {
  it('Scheduler: answered requests leave no listener (served one by one and batched)', async () => {
    const shared = sharedController();
    const s = new Scheduler({ instances: [new FakeInstance()], maxBatchSize: 8, dynamicBatching: { preferred_batch_size: [], max_queue_delay_microseconds: 0, preserve_ordering: false, priority_levels: 0, default_priority_level: 0 } });
    for (let i = 0; i < REQUESTS; i++) await s.enqueue(fakeInput(i), [], 1, { signal: shared.signal });
    assert.equal(listeners(shared.signal), 0, 'one after the other');
    await Promise.all(Array.from({ length: REQUESTS }, (_, i) => s.enqueue(fakeInput(i), [], 1, { signal: shared.signal })));
    assert.equal(listeners(shared.signal), 0, 'all at once');
    await s.close();
  });

  it('Scheduler: failed and timed-out requests leave no listener; waiting ones stay cancellable', async () => {
    const shared = sharedController();
    const instance = new FakeInstance(true);
    const s = new Scheduler({
      instances: [instance], maxBatchSize: 0,
      dynamicBatching: { preferred_batch_size: [], max_queue_delay_microseconds: 0, preserve_ordering: false, priority_levels: 0, default_priority_level: 0, default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: true, max_queue_size: 0 } },
    });
    const failing = codeOf(s.enqueue(fakeInput(1), [], 1, { signal: shared.signal }));
    await until(() => instance.waiting === 1);
    // Queued behind the running one: a timeout of 1 µs expires before the instance is free.
    const timedOut = Array.from({ length: 10 }, (_, i) => codeOf(s.enqueue(fakeInput(i), [], 1, { signal: shared.signal, timeoutUs: 1 })));
    const waiting = Array.from({ length: 10 }, (_, i) => codeOf(s.enqueue(fakeInput(i), [], 1, { signal: shared.signal })));
    assert.deepEqual(new Set(await Promise.all(timedOut)), new Set(['VIREO_ERR_REQUEST_TIMEOUT']));
    instance.release(new VireoError('VIREO_ERR_BACKEND_EXECUTE', 'the instance failed'));
    assert.equal(await failing, 'VIREO_ERR_BACKEND_EXECUTE');
    await until(() => instance.waiting === 1);
    // The first of `waiting` runs; the other nine wait, each with its one listener.
    assert.equal(listeners(shared.signal), 10);
    shared.abort();
    assert.deepEqual(new Set(await Promise.all(waiting.slice(1))), new Set(['VIREO_ERR_REQUEST_CANCELLED']));
    assert.equal(listeners(shared.signal), 0);
    instance.release();
    assert.equal(await waiting[0], 'resolved');
  });

  it('DecoupledRunner: finished and failed streams leave no listener; queued ones stay cancellable', async () => {
    const shared = sharedController();
    const runner = new DecoupledRunner({ model: 'm', instances: [new FakeStreamInstance() as unknown as ModelInstance] });
    const input = (v: number): Tensor[] => [{ name: 'X', datatype: 'FP32', shape: [1], data: Float32Array.of(v) }];
    let responses = 0;
    await Promise.all(Array.from({ length: REQUESTS }, (_, i) => runner.stream(input(i), [], { signal: shared.signal }, () => { responses++; })));
    assert.equal(responses, REQUESTS);
    assert.equal(listeners(shared.signal), 0, 'finished streams');
    const failed = await Promise.all(Array.from({ length: 10 }, () => codeOf(runner.stream(input(-1), [], { signal: shared.signal }, () => undefined))));
    assert.deepEqual(new Set(failed), new Set(['VIREO_ERR_BACKEND_EXECUTE']));
    assert.equal(listeners(shared.signal), 0, 'failed streams');

    const busy = new FakeStreamInstance(true);
    const held = new DecoupledRunner({ model: 'm', instances: [busy as unknown as ModelInstance] });
    // 16 run at once per instance (MAX_STREAMS_PER_INSTANCE), the rest queue: the abort reaches both.
    const streams = Array.from({ length: 20 }, (_, i) => codeOf(held.stream(input(i), [], { signal: shared.signal }, () => undefined)));
    await until(() => busy.waiting === 16);
    busy.release();
    assert.equal(await streams[0], 'resolved');
    assert.equal(listeners(shared.signal), 19);
    shared.abort();
    assert.deepEqual(new Set(await Promise.all(streams.slice(1))), new Set(['VIREO_ERR_REQUEST_CANCELLED']));
    assert.equal(listeners(shared.signal), 0);
  });
});
