/**
 * Bounds a model gets without configuring them: a handler that never returns is cut off by the
 * default execute timeout (its request answered 504, the worker replaced, the model and the others
 * serving on), and a model under 10× overload refuses past the default queue bound with 503 at once
 * instead of queueing without bound; a queue policy written in the config keeps Triton's meaning.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleModel, slowIdentityModel } from '../../tools/modelgen/models.js';
import { grpc, rawOutputValues, serveWithGrpcClient, type RpcClient } from '../helpers/grpc.js';
import type { TestServer } from '../helpers/server.js';
import { add, range16, simpleRequest } from '../helpers/simple.js';

/** Never settles for a negative input; echoes otherwise. No execute_timeout_ms in its config. */
const stalling = `
export function execute(requests) {
  if (requests[0].inputs.IN.data[0] < 0) return new Promise(() => {});
  return requests.map((r) => ({ outputs: { OUT: { data: r.inputs.IN.data } } }));
}
`;
/** A few milliseconds per request, so a burst of requests queues. */
const N = 64;
const slowModel = () => slowIdentityModel(N, 256, 20);
const io = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [2] });
const slowConfig = (extra: Record<string, unknown> = {}) => ({ max_batch_size: 1, instance_group: [{ count: 1, kind: 'KIND_CPU' }], parameters: { intra_op_threads: 1 }, ...extra });
const values = (i: number) => Array.from({ length: N }, (_, j) => (i + j) % 31);
const slowRequest = (model: string, i: number) => ({ model_name: model, inputs: [{ name: 'INPUT', shape: [1, N], datatype: 'FP32', contents: { fp32_contents: values(i) } }] });

/** Over gRPC (one channel carries thousands of concurrent calls); resolves to the answer or the error. */
function burst(client: RpcClient, model: string, count: number) {
  return Promise.all(Array.from({ length: count }, (_, i) => client.call('ModelInfer', slowRequest(model, i)).then(
    (r) => ({ i, ok: true as const, data: rawOutputValues(r, r.outputs[0].name) }),
    (e: grpc.ServiceError) => ({ i, ok: false as const, code: e.code, details: e.details }),
  )));
}

describe('default bounds: handler execute timeout and queue size', () => {
  let server: TestServer;
  let client: RpcClient;
  let close: () => Promise<void>;

  before(async () => {
    ({ server, client, close } = await serveWithGrpcClient({
      simple: { versions: { 1: simpleModel() } },
      stalling: { config: { backend: 'typescript', max_batch_size: 0, input: [io('IN')], output: [io('OUT')] }, versions: { 1: stalling }, filename: 'model.js' },
      slow: { config: slowConfig(), versions: { 1: slowModel() } },
      slow_unbounded: { config: slowConfig({ dynamic_batching: { default_queue_policy: { max_queue_size: 0 } } }), versions: { 1: slowModel() } },
    }, { modelDefaults: { handlerExecuteTimeoutMs: 500 } }));
  });
  after(() => close());

  it('a handler that never returns: 504 after the default execute timeout, then the model serves again', async () => {
    const hung = await server.post('/v2/models/stalling/infer', { inputs: [{ name: 'IN', shape: [2], datatype: 'INT32', data: [-1, 5] }] });
    assert.equal(hung.status, 504, JSON.stringify(hung.body));
    assert.match(hung.body.error, /did not finish the request within 500 ms/);
    const next = await server.post('/v2/models/stalling/infer', { inputs: [{ name: 'IN', shape: [2], datatype: 'INT32', data: [3, 4] }] });
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.deepEqual(next.body.outputs[0].data, [3, 4]);
    const other = await server.post('/v2/models/simple/infer', simpleRequest(range16(), range16(1)));
    assert.deepEqual(other.body.outputs[0].data, add(range16(), range16(1)));
  });

  it('10x the queue bound at once: the excess is refused with UNAVAILABLE naming the bound, the admitted are answered', async () => {
    const bound = 256; // auto: max(256, 16 × 1 instance × max_batch_size 1)
    const results = await burst(client, 'slow', 10 * bound);
    const refused = results.filter((r) => !r.ok);
    const answered = results.filter((r) => r.ok);
    process.stderr.write(`overload: ${answered.length} answered, ${refused.length} refused of ${results.length}\n`);
    for (const r of refused) {
      assert.equal(r.code, grpc.status.UNAVAILABLE, r.details);
      assert.match(r.details, /the queue is full \(max_queue_size 256, --default-max-queue-size\)/);
    }
    assert.ok(refused.length >= 5 * bound, `${refused.length} refused`);
    assert.ok(answered.length >= bound, `${answered.length} answered`);
    for (const r of answered) assert.deepEqual(r.data, values(r.i));
  });

  it('a queue policy written in the config keeps max_queue_size 0 as unbounded (Triton)', async () => {
    const results = await burst(client, 'slow_unbounded', 600);
    assert.deepEqual(results.filter((r) => !r.ok), []);
  });
});
