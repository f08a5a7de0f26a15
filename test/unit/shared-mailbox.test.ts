/**
 * The shared-memory fast path between the main thread and an ONNX instance worker: small calls go
 * through the mailbox, anything it cannot carry (large outputs, BYTES, a second concurrent call)
 * goes over the port, and every path answers with the right numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SharedMailbox } from '../../src/backends/shared-mailbox.js';
import { AnswerSpin, SpinPolicy, spinIsFree } from '../../src/backends/spin-policy.js';
import { WorkerInstance } from '../../src/backends/worker-instance.js';
import type { Tensor } from '../../src/core/tensor.js';
import { identityModel, simpleModel } from '../../tools/modelgen/models.js';

test('a request and its answer survive the mailbox encoding, copied out of shared memory', () => {
  const mailbox = new SharedMailbox(4096);
  const inputs: Tensor[] = [
    { name: 'A', datatype: 'FP32', shape: [1, 3], data: new Float32Array([1.5, -2, 3.25]) },
    { name: 'B', datatype: 'INT64', shape: [2], data: new BigInt64Array([5n, -7n]) },
    { name: 'C', datatype: 'UINT8', shape: [3], data: new Uint8Array([9, 8, 7]) },
  ];
  assert.equal(mailbox.trySend({ id: 7, inputs, outputs: ['X'], context: { items: [1], parameters: [{ k: 'é' }] } }), true);
  assert.equal(mailbox.trySend({ id: 8, inputs, outputs: [] }), false, 'the slot holds one call at a time');
  const taken = mailbox.take()!;
  assert.equal(taken.id, 7);
  assert.deepEqual(taken.outputs, ['X']);
  assert.deepEqual(taken.context, { items: [1], parameters: [{ k: 'é' }] });
  assert.deepEqual(taken.inputs.map((t) => [t.name, t.datatype, t.shape, Array.from(t.data as ArrayLike<unknown>)]), [
    ['A', 'FP32', [1, 3], [1.5, -2, 3.25]],
    ['B', 'INT64', [2], [5n, -7n]],
    ['C', 'UINT8', [3], [9, 8, 7]],
  ]);
  assert.ok(taken.inputs.every((t) => !((t.data as Float32Array).buffer instanceof SharedArrayBuffer)));
  assert.equal(mailbox.take(), undefined, 'taken once');
});

test('every numeric datatype crosses the mailbox at every size class, views and odd names included', async () => {
  const mailbox = new SharedMailbox(1 << 16);
  // Sizes around the copy-out classes: in V8's heap (≤ 64 bytes), Buffer's pool (< 4 KiB), a buffer of its own.
  for (const count of [0, 1, 16, 17, 500, 1100]) {
    const backing = new ArrayBuffer(16 + 8 * count + 8);
    const values = (i: number) => ((i * 37) % 251) - 120;
    const inputs: Tensor[] = [
      { name: 'b', datatype: 'BOOL', shape: [count], data: Uint8Array.from({ length: count }, (_, i) => i % 2) },
      { name: 'u8', datatype: 'UINT8', shape: [count], data: Uint8Array.from({ length: count }, (_, i) => i % 256) },
      { name: 'u16', datatype: 'UINT16', shape: [count], data: Uint16Array.from({ length: count }, (_, i) => i * 7) },
      { name: 'u32', datatype: 'UINT32', shape: [count], data: Uint32Array.from({ length: count }, (_, i) => 4e9 - i) },
      { name: 'u64', datatype: 'UINT64', shape: [count], data: BigUint64Array.from({ length: count }, (_, i) => 2n ** 63n + BigInt(i)) },
      { name: 'i8', datatype: 'INT8', shape: [count], data: Int8Array.from({ length: count }, (_, i) => values(i)) },
      { name: 'i16', datatype: 'INT16', shape: [count], data: Int16Array.from({ length: count }, (_, i) => values(i) * 200) },
      { name: 'i32', datatype: 'INT32', shape: [count], data: Int32Array.from({ length: count }, (_, i) => values(i) * 1e7) },
      { name: 'i64', datatype: 'INT64', shape: [count], data: BigInt64Array.from({ length: count }, (_, i) => -(2n ** 62n) + BigInt(i)) },
      { name: 'h', datatype: 'FP16', shape: [count], data: Uint16Array.from({ length: count }, (_, i) => 0x3c00 + i) },
      { name: 'bf', datatype: 'BF16', shape: [count], data: Uint16Array.from({ length: count }, (_, i) => 0x3f80 + i) },
      { name: 'f32', datatype: 'FP32', shape: [1, count], data: Float32Array.from({ length: count }, (_, i) => i / 3) },
      // A view at an offset into a larger buffer, as a batch's per-request slices are.
      { name: 'f64 view', datatype: 'FP64', shape: [count, 1], data: new Float64Array(backing, 8, count).map((_, i) => -i / 7) },
      // A mismatched array type: its bytes are carried as they are.
      { name: 'raw', datatype: 'FP32', shape: [count], data: new Uint32Array(new Float32Array(count).fill(1.5).buffer) as unknown as Float32Array },
      { name: 'naïve ☃ 名前', datatype: 'INT32', shape: [2, 0, 3], data: new Int32Array(0) },
    ];
    assert.equal(mailbox.trySend({ id: 2 ** 40 + count, slot: 3, inputs, outputs: ['OUT', 'ünï'] }), true);
    const taken = mailbox.take()!;
    assert.equal(taken.id, 2 ** 40 + count);
    assert.equal(taken.slot, 3);
    assert.deepEqual(taken.outputs, ['OUT', 'ünï']);
    assert.equal(taken.context, undefined);
    assert.equal(taken.inputs.length, inputs.length);
    taken.inputs.forEach((got, i) => {
      const sent = inputs[i]!;
      assert.equal(got.name, sent.name);
      assert.equal(got.datatype, sent.datatype);
      assert.deepEqual(got.shape, sent.shape);
      const bytes = (t: Tensor) => { const d = t.data as Uint8Array; return Buffer.from(d.buffer, d.byteOffset, d.byteLength); };
      assert.ok(bytes(got).equals(bytes(sent)), `${sent.name} × ${count}: same bytes`);
      assert.ok(!(((got.data as Uint8Array).buffer) instanceof SharedArrayBuffer), 'copied out of shared memory');
    });
    // The mailbox is reused by the next call: what was taken must not change with it.
    const before = Array.from(taken.inputs[7]!.data as Int32Array);
    const answerOutputs: Tensor[] = [{ name: 'OUT', datatype: 'INT32', shape: [count], data: new Int32Array(count).fill(-1) }];
    assert.equal(mailbox.answer({ id: taken.id, outputs: answerOutputs, executeMs: 0.25 }), true);
    assert.deepEqual(Array.from(taken.inputs[7]!.data as Int32Array), before);
    const answer = await mailbox.receive();
    assert.ok(answer && 'outputs' in answer);
    assert.equal(answer.executeMs, 0.25);
    assert.deepEqual(Array.from(answer.outputs[0]!.data as Int32Array), new Array(count).fill(-1));
  }
});

test('an error answer and a batch context come through as JSON; names and ranks beyond the frame take the port', async () => {
  const mailbox = new SharedMailbox(4096);
  const context = { items: [2, 1], parameters: [undefined, { priority: 1, tag: 'x' }], timeoutMs: 50 };
  assert.equal(mailbox.trySend({ id: 1, inputs: [], outputs: [], context }), true);
  assert.deepEqual(mailbox.take()!.context, { items: [2, 1], parameters: [null, { priority: 1, tag: 'x' }], timeoutMs: 50 });
  assert.equal(mailbox.answer({ id: 1, error: { code: 'VIREO_ERR_INPUT_SHAPE', message: 'bad ☃' }, executeMs: 1.5 }), true);
  assert.deepEqual(await mailbox.receive(), { id: 1, executeMs: 1.5, error: { code: 'VIREO_ERR_INPUT_SHAPE', message: 'bad ☃' } });

  const deep: Tensor = { name: 'A', datatype: 'FP32', shape: new Array(256).fill(1), data: new Float32Array(1) };
  assert.equal(mailbox.trySend({ id: 2, inputs: [deep], outputs: [] }), false, 'rank 256');
  assert.equal(mailbox.trySend({ id: 3, inputs: [], outputs: ['é'.repeat(2100)] }), false, 'a name larger than the mailbox');
  assert.equal(mailbox.trySend({ id: 4, inputs: [{ ...deep, shape: [1], name: 'x'.repeat(70_000) }], outputs: [] }), false, 'a name beyond 64 KiB');
  assert.equal(mailbox.trySend({ id: 6, inputs: [{ ...deep, shape: [1], datatype: 'FP8' as never }], outputs: [] }), false, 'a datatype the frame has no code for');
  const fits: Tensor = { name: 'é'.repeat(500), datatype: 'FP32', shape: [2], data: new Float32Array([1, 2]) };
  assert.equal(mailbox.trySend({ id: 5, inputs: [fits], outputs: [] }), true, 'a long non-ASCII name that fits');
  assert.equal(mailbox.take()!.inputs[0]!.name, 'é'.repeat(500));
});

test('a wait for an answer ends once the worker is gone, instead of polling forever', async () => {
  const mailbox = new SharedMailbox(1024);
  assert.equal(mailbox.trySend({ id: 1, inputs: [], outputs: [] }), true);
  let gone = false;
  // Atomics.waitAsync holds no event-loop reference (in Vireo the worker handle does).
  const keepAlive = setTimeout(() => undefined, 5000);
  const waiting = mailbox.receive(0, () => gone);
  gone = true;
  assert.equal(await waiting, undefined);
  clearTimeout(keepAlive);
});

test('what the mailbox cannot carry is refused, not truncated', () => {
  const mailbox = new SharedMailbox(1024);
  const big: Tensor = { name: 'A', datatype: 'FP32', shape: [512], data: new Float32Array(512) };
  assert.equal(mailbox.trySend({ id: 1, inputs: [big], outputs: [] }), false);
  const bytes: Tensor = { name: 'S', datatype: 'BYTES', shape: [1], data: [new Uint8Array([104, 105])] };
  assert.equal(mailbox.trySend({ id: 2, inputs: [bytes], outputs: [] }), false);
  assert.equal(mailbox.trySend({ id: 3, inputs: [], outputs: [], context: { items: [1], parameters: [{ n: 1n as unknown as number }] } }), false);
  assert.equal(mailbox.answer({ id: 4, outputs: [big] }), false);
});

test('spinning is free only while the requests in flight leave a core idle', () => {
  assert.equal(spinIsFree(1, 2), true, 'one request on two cores: its chain of threads uses one core at a time');
  assert.equal(spinIsFree(2, 2), false);
  assert.equal(spinIsFree(0, 1), false, 'one core: a spinning thread always takes it from someone');
  assert.equal(spinIsFree(7, 8), true);
});

test('the spin follows short gaps between calls and stops when they grow or requests pile up', () => {
  const spin = new SpinPolicy(500, 2);
  assert.equal(spin.spinMs(0), 0, 'nothing learned yet');
  let now = 0;
  for (let i = 0; i < 10; i++) {
    spin.answered(now);
    now += 0.2;
    spin.arrived(now);
    now += 0.05;
  }
  spin.answered(now);
  const spinMs = spin.spinMs(1);
  assert.ok(spinMs > 0.2 && spinMs <= 0.5, `spins a little longer than the usual 0.2 ms gap, got ${spinMs}`);
  assert.equal(spin.spinMs(4), 0, 'four requests in flight on two cores need every core');
  for (let i = 0; i < 20; i++) {
    spin.arrived(now + 5);
    now += 5;
    spin.answered(now);
  }
  assert.equal(spin.spinMs(1), 0, 'gaps beyond the cap: park at once');
  assert.equal(new SpinPolicy(0, 2).spinMs(0), 0);
});

test('the main thread waits synchronously only for models that run in microseconds, and only for a lone request', () => {
  const spin = new AnswerSpin();
  assert.equal(spin.spinMs(1), 0, 'nothing known about the model yet');
  for (let i = 0; i < 5; i++) spin.observe(0.02);
  const spinMs = spin.spinMs(1);
  assert.ok(spinMs > 0.02 && spinMs <= AnswerSpin.CAP_MS, `got ${spinMs}`);
  assert.equal(spin.spinMs(2), 0, 'another request in flight needs the event loop');
  for (let i = 0; i < 30; i++) spin.observe(3);
  assert.equal(spin.spinMs(1), 0, 'a model taking milliseconds is never waited for on the main thread');
});

test('an ONNX worker answers small calls, large answers, BYTES and concurrent calls correctly', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vireo-mailbox-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'simple.onnx'), simpleModel());
  await writeFile(join(dir, 'identity.onnx'), identityModel('FLOAT'));
  await writeFile(join(dir, 'strings.onnx'), identityModel('STRING'));
  const start = (file: string) => WorkerInstance.start('onnx', { modelPath: join(dir, file), executionProviders: ['cpu'], intraOpThreads: 1, interOpThreads: 1, spinWaitUs: 200 }, () => undefined);

  const simple = await start('simple.onnx');
  t.after(() => simple.close());
  const a = Array.from({ length: 16 }, (_, i) => i * 3 - 7);
  const b = Array.from({ length: 16 }, (_, i) => 100 - i);
  const call = (k: number) => simple.execute([
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Int32Array.from(a, (x) => x + k) },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Int32Array.from(b) },
  ], []);
  // The port moves owned input buffers (they detach); the mailbox copies them: which path ran shows.
  const input0 = Int32Array.from(a);
  await simple.execute([{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: input0 }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Int32Array.from(b) }], []);
  assert.equal(input0.length, 16, 'a lone small call went through the mailbox');
  for (let k = 0; k < 50; k++) {
    const [sum, diff] = await call(k);
    assert.deepEqual(Array.from(sum!.data as Int32Array), a.map((x, i) => x + k + b[i]!));
    assert.deepEqual(Array.from(diff!.data as Int32Array), a.map((x, i) => x + k - b[i]!));
  }
  // Three at once: the first takes the mailbox, the others the port; each gets its own answer.
  const concurrent = await Promise.all([1, 2, 3].map(call));
  concurrent.forEach(([sum], j) => assert.deepEqual(Array.from(sum!.data as Int32Array), a.map((x, i) => x + j + 1 + b[i]!)));

  const identity = await start('identity.onnx');
  t.after(() => identity.close());
  const n = 300_000; // 1.2 MB each way: beyond the mailbox, over the port
  const data = Float32Array.from({ length: n }, (_, i) => (i % 1000) / 8);
  const [out] = await identity.execute([{ name: 'INPUT', datatype: 'FP32', shape: [1, n], data: data.slice() }], []);
  assert.deepEqual(out!.shape, [1, n]);
  assert.equal((out!.data as Float32Array)[123_456], (123_456 % 1000) / 8);
  const [small] = await identity.execute([{ name: 'INPUT', datatype: 'FP32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }], []);
  assert.deepEqual(Array.from(small!.data as Float32Array), [1, 2, 3, 4], 'the mailbox is usable again after a port answer');

  const strings = await start('strings.onnx');
  t.after(() => strings.close());
  const [echo] = await strings.execute([{ name: 'INPUT', datatype: 'BYTES', shape: [1, 2], data: [Buffer.from('vireo'), Buffer.from('ok')] }], []);
  assert.deepEqual((echo!.data as Uint8Array[]).map((e) => Buffer.from(e).toString()), ['vireo', 'ok']);
});
