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
