/**
 * SequenceBatcher over a recording instance: which steps share a batch (one per sequence, several
 * sequences per batch), the order of a sequence's steps, the state carried between them, the
 * backlog of the oldest strategy and the control values the model sees.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelInstance, ModelSignature } from '../../src/backends/backend.js';
import type { Tensor } from '../../src/core/tensor.js';
import { SequenceBatcher, type SequenceBatcherOptions } from '../../src/scheduler/sequence-batcher.js';

/** OUTPUT = (START ? 0 : ACC_IN) + INPUT, ACC_OUT = OUTPUT; each batch waits for release(). */
class Accumulator implements ModelInstance {
  readonly signature: ModelSignature = { inputs: [], outputs: [] };
  readonly batches: { inputs: number[]; starts: number[]; ends: number[] }[] = [];
  #gates: (() => void)[] = [];

  async execute(inputs: Tensor[]): Promise<Tensor[]> {
    const get = (name: string) => Array.from(inputs.find((t) => t.name === name)!.data as Int32Array);
    const input = get('INPUT');
    const start = get('START');
    const acc = get('ACC_IN');
    this.batches.push({ inputs: input, starts: start, ends: get('END') });
    await new Promise<void>((resolve) => this.#gates.push(resolve));
    const out = Int32Array.from(input, (v, i) => v + (start[i] ? 0 : acc[i]!));
    const shape = [input.length, 1];
    return [{ name: 'OUTPUT', datatype: 'INT32', shape, data: out }, { name: 'ACC_OUT', datatype: 'INT32', shape, data: out.slice() }];
  }

  /** Lets the running batch finish, then waits for the batcher to react. */
  async release(): Promise<void> {
    this.#gates.shift()!();
    await new Promise((r) => setTimeout(r, 5));
  }

  async close(): Promise<void> {}
}

function batcher(instance: Accumulator, strategy: SequenceBatcherOptions['strategy'], maxBacklog = 10): SequenceBatcher {
  return new SequenceBatcher({
    model: 'acc', instances: [instance], maxBatchSize: 4, maxSequenceIdleUs: 0, maxBacklog, strategy,
    controls: [
      { name: 'START', control: [{ kind: 'CONTROL_SEQUENCE_START', int32_false_true: [0, 1] }] },
      { name: 'END', control: [{ kind: 'CONTROL_SEQUENCE_END', int32_false_true: [0, 1] }] },
    ],
    states: [{ inputName: 'ACC_IN', outputName: 'ACC_OUT', datatype: 'INT32', dims: [1], initial: new Int32Array(1) }],
  });
}

const step = (b: SequenceBatcher, id: number, value: number, flags: { start?: boolean; end?: boolean } = {}) =>
  b.enqueue([{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: Int32Array.of(value) }], [], 1, {
    parameters: { sequence_id: id, sequence_start: flags.start ?? false, sequence_end: flags.end ?? false },
  }).then((outputs) => outputs.map((t) => [t.name, (t.data as Int32Array)[0]]));

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('SequenceBatcher', () => {
  it('direct: batches one step of each of several sequences, never two of one, and carries each state', async () => {
    const model = new Accumulator();
    const b = batcher(model, { kind: 'direct', maxQueueDelayUs: 0, minimumSlotUtilization: 0 });
    const a1 = step(b, 1, 10, { start: true });
    await tick();
    const a2 = step(b, 1, 1);
    const a3 = step(b, 1, 2, { end: true });
    const others = [2, 3, 4].map((id) => step(b, id, id * 100, { start: true }));
    await tick();
    assert.equal(model.batches.length, 1, 'the first step runs alone; everything else waits for the instance');
    await model.release();
    // The instance takes the three new sequences' first steps at once (A's second step is handed
    // over only when its first has answered, a moment after the instance freed).
    assert.deepEqual(model.batches[1]!.inputs, [200, 300, 400]);
    assert.deepEqual(model.batches[1]!.starts, [1, 1, 1]);
    await model.release();
    // A's second step, then its third: never two steps of one sequence in one batch.
    assert.deepEqual(model.batches[2]!.inputs, [1]);
    await model.release();
    assert.deepEqual(model.batches[3]!.inputs, [2]);
    assert.deepEqual(model.batches[3]!.ends, [1]);
    await model.release();
    assert.deepEqual(await a1, [['OUTPUT', 10]]);
    assert.deepEqual(await a2, [['OUTPUT', 11]]);
    assert.deepEqual(await a3, [['OUTPUT', 13]], 'state carried across batches; ACC_OUT never reaches the client');
    assert.deepEqual(await Promise.all(others), [[['OUTPUT', 200]], [['OUTPUT', 300]], [['OUTPUT', 400]]]);
    assert.equal(b.active, 3);
    await assert.rejects(step(b, 1, 5), /sequence 1 of model "acc" has ended/);
  });

  it('oldest: sequences beyond max_candidate_sequences wait in the backlog for a slot; beyond the backlog they are refused', async () => {
    const model = new Accumulator();
    const b = batcher(model, { kind: 'oldest', maxCandidateSequences: 1, preferredBatchSize: [], maxQueueDelayUs: 0, preserveOrdering: false }, 1);
    const first = step(b, 1, 5, { start: true });
    const second = step(b, 2, 7, { start: true, end: true });
    await assert.rejects(step(b, 3, 1, { start: true }), /max_sequence_backlog/);
    await tick();
    assert.deepEqual([b.active, b.backlog], [1, 1]);
    await model.release();
    assert.deepEqual(await first, [['OUTPUT', 5]]);
    const last = step(b, 1, 1, { end: true });
    await tick();
    await model.release();
    assert.deepEqual(await last, [['OUTPUT', 6]]);
    await tick();
    assert.equal(model.batches.length, 3, 'sequence 2 ran only once sequence 1 ended');
    await model.release();
    assert.deepEqual(await second, [['OUTPUT', 7]]);
    assert.deepEqual([b.active, b.backlog], [0, 0]);
    await b.close();
  });
});
