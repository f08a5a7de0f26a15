/**
 * Graceful shutdown of the gRPC frontend: open health watches hear NOT_SERVING and end, an open
 * inference stream answers the request it had admitted (even one still queued for a batch) and
 * ends with status OK rather than being cut, and new calls are refused. Draining alone already
 * turns health NOT_SERVING and inference UNAVAILABLE.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { grpc, healthClient, rawOutputValues, tritonClient } from '../helpers/grpc.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer } from '../helpers/server.js';
import { add, range16 } from '../helpers/simple.js';

it('close() ends watches and streams gracefully after answering admitted requests', async () => {
  const repo = await makeRepository({
    // A lone request waits up to 60 s for a batch of 8: only the drain on close releases it.
    slow: { config: { max_batch_size: 8, dynamic_batching: { preferred_batch_size: [8], max_queue_delay_microseconds: 60_000_000 } }, versions: { 1: simpleModel() } },
  });
  const server = await startTestServer(repo.root);
  const client = tritonClient(server.grpcTarget);
  const health = healthClient(server.grpcTarget);
  try {
    const watched: string[] = [];
    const watchEnded = new Promise<grpc.StatusObject>((resolve, reject) => {
      const watch = health.raw.Watch({ service: '' });
      watch.on('data', (r: { status: string }) => watched.push(r.status));
      watch.on('status', resolve);
      watch.on('error', reject);
    });

    const stream = client.raw.ModelStreamInfer();
    const responses: any[] = [];
    const streamEnded = new Promise<grpc.StatusObject>((resolve, reject) => {
      stream.on('data', (r: unknown) => responses.push(r));
      stream.on('status', resolve);
      stream.on('error', reject);
    });
    const a = range16(2);
    stream.write({ model_name: 'slow', id: 'queued', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], contents: { int_contents: a } })) });
    const scheduler = server.server.repository.resolve('slow').scheduler;
    for (let i = 0; scheduler.pending === 0; i++) {
      assert.ok(i < 1500, 'the stream request never reached the queue');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(watched, ['SERVING']);

    await server.close();

    const [watchStatus, streamStatus] = await Promise.all([watchEnded, streamEnded]);
    assert.equal(watchStatus.code, grpc.status.OK);
    assert.deepEqual(watched, ['SERVING', 'NOT_SERVING']);
    assert.equal(streamStatus.code, grpc.status.OK);
    assert.equal(responses.length, 1);
    assert.equal(responses[0].error_message, '');
    assert.equal(responses[0].infer_response.id, 'queued');
    assert.deepEqual(rawOutputValues(responses[0].infer_response, responses[0].infer_response.outputs[0].name), add(a, a));

    const refused = await client.call('ServerLive', {}, { deadline: Date.now() + 5_000 }).catch((e: grpc.ServiceError) => e);
    assert.equal((refused as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
  } finally {
    client.close();
    health.close();
    await repo.cleanup();
  }
});

it('Watch reports a readiness change while the server runs (draining makes it NOT_SERVING), and ModelInfer is then UNAVAILABLE', async () => {
  const repo = await makeRepository({ simple: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } } });
  const server = await startTestServer(repo.root);
  const client = tritonClient(server.grpcTarget);
  const health = healthClient(server.grpcTarget);
  const watch = health.raw.Watch({ service: '' });
  try {
    const seen: string[] = [];
    const notServing = new Promise<void>((resolve, reject) => {
      watch.on('data', (r: { status: string }) => {
        seen.push(r.status);
        if (r.status === 'NOT_SERVING') resolve();
      });
      watch.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) reject(e); });
    });
    for (let i = 0; seen.length === 0; i++) {
      assert.ok(i < 1500, 'Watch sent no first status');
      await new Promise((r) => setTimeout(r, 20));
    }
    server.server.startDraining();
    await notServing;
    assert.deepEqual(seen, ['SERVING', 'NOT_SERVING']);
    const a = range16();
    await assert.rejects(client.call('ModelInfer', { model_name: 'simple', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], contents: { int_contents: a } })) }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE && /shutting down/.test(e.details));
  } finally {
    watch.cancel();
    client.close();
    health.close();
    await server.close();
    await repo.cleanup();
  }
});
