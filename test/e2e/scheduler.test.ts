/**
 * The scheduler end to end over real HTTP and real onnxruntime: correctness of batched results
 * under concurrency, batching statistics, delays, priorities, timeouts, queue limits, client
 * disconnects and multiple instances. Assertions use counts, order and statistics; the only
 * durations checked are lower bounds or generous upper bounds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cnnModel, simpleModel, slowModel } from '../../tools/modelgen/models.js';
import { cnnReference } from '../helpers/cnn-reference.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/fake-instance.js';
import { add, simpleRequest, sub } from '../helpers/simple.js';

const SLOW_N = 512;
const slowBytes = slowModel(SLOW_N, 16);
/** Long enough that, even on a loaded machine, three more requests queue up while one runs. */
const slowLongBytes = slowModel(SLOW_N, 96);
const slowInput = (v: number, extra: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, SLOW_N], data: new Array(SLOW_N).fill(v / 1000) }],
  ...extra,
});
const single = { parameters: { intra_op_threads: 1 } };

describe('scheduler end to end', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      simple: { versions: { 1: simpleModel() }, config: { max_batch_size: 8, dynamic_batching: { preferred_batch_size: [4, 8], max_queue_delay_microseconds: 200_000 } } },
      simple_delay: { versions: { 1: simpleModel() }, config: { max_batch_size: 8, dynamic_batching: { preferred_batch_size: [8], max_queue_delay_microseconds: 100_000 } } },
      simple_adaptive: { versions: { 1: simpleModel() }, config: { max_batch_size: 8, dynamic_batching: { adaptive: { target_latency_ms: 200 } } } },
      cnn: { versions: { 1: cnnModel() }, config: { max_batch_size: 16, dynamic_batching: { max_queue_delay_microseconds: 2000 } } },
      slow: { versions: { 1: slowBytes }, config: { max_batch_size: 1, ...single, dynamic_batching: { priority_levels: 2, default_priority_level: 2 } } },
      slow_long: { versions: { 1: slowLongBytes }, config: { max_batch_size: 1, ...single, dynamic_batching: {} } },
      slow_bounded: { versions: { 1: slowBytes }, config: { max_batch_size: 1, ...single, dynamic_batching: { default_queue_policy: { max_queue_size: 2 } } } },
      slow_pair: { versions: { 1: slowBytes }, config: { max_batch_size: 1, ...single, instance_group: [{ count: 2, kind: 'KIND_CPU' }], dynamic_batching: {} } },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
  });
  after(async () => {
    await server.close();
    await cleanup();
  });

  const stats = async (model: string) => (await server.get(`/v2/models/${model}/stats`)).body.model_stats[0];

  it('200 concurrent requests to simple each get exactly their own sums and differences, in batches', async () => {
    const requests = Array.from({ length: 200 }, (_, i) => {
      const a = Array.from({ length: 16 }, (_, k) => i * 100 + k);
      const b = Array.from({ length: 16 }, (_, k) => (i * 7 + k * 3) % 50);
      return { a, b, id: `r${i}` };
    });
    const responses = await Promise.all(requests.map(({ a, b, id }) => server.post('/v2/models/simple/infer', simpleRequest(a, b, { id }))));
    responses.forEach((r, i) => {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.id, requests[i]!.id);
      assert.deepEqual(r.body.outputs[0].shape, [1, 16]);
      assert.deepEqual(r.body.outputs[0].data, add(requests[i]!.a, requests[i]!.b));
      assert.deepEqual(r.body.outputs[1].data, sub(requests[i]!.a, requests[i]!.b));
    });
    const s = await stats('simple');
    assert.equal(s.inference_count, 200);
    assert.ok(s.execution_count < s.inference_count, `execution_count ${s.execution_count} should be below 200`);
    const sizes: { batch_size: number; compute_infer: { count: number } }[] = s.batch_stats;
    assert.ok(sizes.every((b) => b.batch_size >= 1 && b.batch_size <= 8));
    assert.equal(sizes.reduce((n, b) => n + b.batch_size * b.compute_infer.count, 0), 200);
    const inPreferred = sizes.filter((b) => [4, 8].includes(b.batch_size)).reduce((n, b) => n + b.batch_size * b.compute_infer.count, 0);
    assert.ok(inPreferred > 100, `only ${inPreferred} of 200 items ran in preferred batch sizes: ${JSON.stringify(sizes)}`);
  });

  it('adaptive mode: 100 concurrent requests each get their own results, in batches', async () => {
    const requests = Array.from({ length: 100 }, (_, i) => ({ a: new Array(16).fill(i), b: Array.from({ length: 16 }, (_, k) => k) }));
    const responses = await Promise.all(requests.map(({ a, b }) => server.post('/v2/models/simple_adaptive/infer', simpleRequest(a, b))));
    responses.forEach((r, i) => {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.outputs[0].data, add(requests[i]!.a, requests[i]!.b));
      assert.deepEqual(r.body.outputs[1].data, sub(requests[i]!.a, requests[i]!.b));
    });
    const s = await stats('simple_adaptive');
    assert.equal(s.inference_count, 100);
    assert.ok(s.execution_count < 100, `execution_count ${s.execution_count}`);
    assert.ok(s.batch_stats.every((b: { batch_size: number }) => b.batch_size <= 8));
  });

  it('200 concurrent requests to a CNN each get their own result (checked against a JS forward pass)', async () => {
    const images = Array.from({ length: 200 }, (_, i) => Array.from({ length: 64 }, (_, k) => Math.sin(i * 0.37 + k * 0.11)));
    const responses = await Promise.all(images.map((image) => server.post('/v2/models/cnn/infer', {
      inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 1, 8, 8], data: image }],
    })));
    responses.forEach((r, i) => {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const expected = cnnReference(images[i]!);
      const got: number[] = r.body.outputs[0].data;
      assert.equal(got.length, 5);
      got.forEach((v, k) => assert.ok(Math.abs(v - expected[k]!) < 1e-4, `request ${i} output ${k}: ${v} vs ${expected[k]}`));
    });
    const s = await stats('cnn');
    assert.equal(s.inference_count, 200);
    assert.ok(s.execution_count < 200);
    assert.ok(s.batch_stats.every((b: { batch_size: number }) => b.batch_size <= 16));
  });

  it('a lone request waits about max_queue_delay for company, then runs alone', async () => {
    const r = await server.post('/v2/models/simple_delay/infer', simpleRequest(new Array(16).fill(1), new Array(16).fill(2)));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.outputs[0].data, new Array(16).fill(3));
    const s = await stats('simple_delay');
    assert.equal(s.execution_count, 1);
    assert.deepEqual(s.batch_stats.map((b: { batch_size: number }) => b.batch_size), [1]);
    const queueMs = s.inference_stats.queue.ns / 1e6;
    assert.ok(queueMs >= 95, `queued ${queueMs} ms: it should have waited for the 100 ms delay`);
    assert.ok(queueMs < 5000, `queued ${queueMs} ms: held far beyond the 100 ms delay`);
  });

  it('high-priority requests overtake a long low-priority queue', async () => {
    const order: string[] = [];
    const send = (tag: string, extra: Record<string, unknown>) =>
      server.post('/v2/models/slow/infer', slowInput(order.length, extra)).then((r) => {
        assert.equal(r.status, 200, JSON.stringify(r.body));
        order.push(tag);
      });
    const lows = Array.from({ length: 24 }, (_, i) => send(`low${i}`, {}));
    // Wait until the queue is running (one low finished), then send the urgent ones.
    while ((await stats('slow')).inference_count < 1) await new Promise((r) => setTimeout(r, 5));
    const doneBefore = order.length;
    const highs = Array.from({ length: 3 }, (_, i) => send(`high${i}`, { parameters: { priority: 1 } }));
    await Promise.all([...lows, ...highs]);
    const lastHigh = Math.max(...['high0', 'high1', 'high2'].map((t) => order.indexOf(t)));
    const lowsBeforeLastHigh = order.slice(0, lastHigh).filter((t) => t.startsWith('low')).length;
    // At most the lows already done, the one running, and one per high that arrived after a dispatch.
    assert.ok(lowsBeforeLastHigh <= doneBefore + 4, `order: ${order.join(' ')}`);
    assert.ok(order.slice(lastHigh + 1).length >= 24 - doneBefore - 4 - 1, `order: ${order.join(' ')}`);
  });

  it('a request whose timeout passes in the queue gets 504 and never runs', async () => {
    const before = await stats('slow');
    const running = server.post('/v2/models/slow/infer', slowInput(1));
    const scheduler = server.server.repository.find('slow', '1').scheduler!;
    await until(() => scheduler.pending >= 1);
    const late = await server.post('/v2/models/slow/infer', slowInput(2, { parameters: { timeout: 1000 } }));
    assert.equal(late.status, 504);
    assert.match(late.body.error, /timed out/);
    assert.equal((await running).status, 200);
    const s = await stats('slow');
    assert.equal(s.execution_count - before.execution_count, 1);
    assert.equal(s.inference_stats.fail.count - before.inference_stats.fail.count, 1);
  });

  it('beyond max_queue_size requests are rejected at once with 503 "queue is full"', async () => {
    const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => server.post('/v2/models/slow_bounded/infer', slowInput(i))));
    const ok = responses.filter((r) => r.status === 200);
    const full = responses.filter((r) => r.status === 503);
    assert.equal(ok.length + full.length, 8);
    assert.ok(full.length >= 1, 'some requests must have found the queue full');
    for (const r of full) assert.match(r.body.error, /queue is full/);
    assert.equal((await stats('slow_bounded')).inference_count, ok.length);
  });

  it('a client that disconnects while queued is dropped: its request never runs', async () => {
    const before = await stats('slow_long');
    const first = server.post('/v2/models/slow_long/infer', slowInput(1));
    await new Promise((r) => setTimeout(r, 10));
    const controllers = Array.from({ length: 3 }, () => new AbortController());
    const abandoned = controllers.map((c, i) => fetch(`${server.url}/v2/models/slow_long/infer`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(slowInput(i)), signal: c.signal,
    }).catch((e: Error) => e.name));
    // Abort only once all three are queued behind the running one (the scheduler's own count).
    const scheduler = server.server.repository.find('slow_long', '1').scheduler!;
    await until(() => scheduler.pending >= 4);
    for (const c of controllers) c.abort();
    assert.deepEqual(await Promise.all(abandoned), ['AbortError', 'AbortError', 'AbortError']);
    assert.equal((await first).status, 200);
    const last = await server.post('/v2/models/slow_long/infer', slowInput(5));
    assert.equal(last.status, 200);
    const s = await stats('slow_long');
    assert.equal(s.execution_count - before.execution_count, 2, `only the two requests whose clients stayed ran: ${JSON.stringify(s.inference_stats)} before ${JSON.stringify(before.inference_stats)}`);
    assert.equal(s.inference_count - before.inference_count, 2);
  });

  it('with instance_group count 2, batches run on two workers at the same time', async () => {
    const started = process.hrtime.bigint();
    const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => server.post('/v2/models/slow_pair/infer', slowInput(i))));
    const elapsedNs = Number(process.hrtime.bigint() - started);
    assert.ok(responses.every((r) => r.status === 200));
    const s = await stats('slow_pair');
    assert.equal(s.execution_count, 8);
    // Executions that never overlapped would sum to less than the elapsed time; more means overlap.
    assert.ok(s.inference_stats.compute_infer.ns > elapsedNs, `compute ${s.inference_stats.compute_infer.ns} ns within ${elapsedNs} ns`);
  });
});
