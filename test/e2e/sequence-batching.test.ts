/**
 * Sequence batching end to end on the generated simple_sequence accumulator (implicit state kept
 * by the server): interleaved sequences over REST and gRPC, numeric and string ids, the errors
 * for unknown / ended / idle-released sequences, the backlog bound, statistics and metrics.
 * Expected sums are computed here from the values sent.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { accumulatorModel, dynaSequenceModel } from '../../tools/modelgen/models.js';
import { assertStatus, grpc, rawOutputValues, type RpcClient, streamInfer, tritonClient } from '../helpers/grpc.js';
import { makeRepository } from '../helpers/repository.js';
import { accumulatorConfig } from '../helpers/accumulator.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const body = (value: number, parameters: Record<string, unknown>) => ({
  inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [value] }],
  parameters,
});

describe('sequence batching (simple_sequence accumulator)', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let client: RpcClient;
  let metricsUrl: string;

  before(async () => {
    const repo = await makeRepository({
      acc: { config: accumulatorConfig(), versions: { 1: accumulatorModel() } },
      acc_oldest: { config: accumulatorConfig({}, { oldest: { max_candidate_sequences: 3, preferred_batch_size: [2], max_queue_delay_microseconds: 1000 } }), versions: { 1: accumulatorModel() } },
      acc_idle: { config: accumulatorConfig({ max_sequence_idle_microseconds: 100_000 }), versions: { 1: accumulatorModel() } },
      acc_small: { config: { ...accumulatorConfig({ max_sequence_backlog: 1 }), max_batch_size: 1 }, versions: { 1: accumulatorModel() } },
      // Triton's simple_dyna_sequence: OUTPUT = (INPUT + START + END × CORRID) × READY, CORRID a UINT64 control.
      simple_dyna_sequence: {
        config: await readFile(join(import.meta.dirname, '..', '..', 'examples', 'triton-models', 'simple_dyna_sequence', 'config.pbtxt'), 'utf8'),
        configFile: 'config.pbtxt',
        versions: { 1: dynaSequenceModel() },
      },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { metricsPort: 0 });
    client = tritonClient(server.grpcTarget);
    metricsUrl = server.metricsUrl!;
  });

  after(async () => {
    client.close();
    await server.close();
    await cleanup();
  });

  const step = async (model: string, value: number, parameters: Record<string, unknown>) => {
    const r = await server.post(`/v2/models/${model}/infer`, body(value, parameters));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.outputs[0].data[0] as number;
  };

  it('keeps each sequence\'s running sum apart while 6 sequences interleave (direct and oldest)', async () => {
    for (const model of ['acc', 'acc_oldest']) {
      const sequences = Array.from({ length: 6 }, (_, s) => ({ id: model === 'acc' ? 100 + s : `speaker-${s}`, values: Array.from({ length: 7 }, (_, i) => (s + 1) * 10 + i * (s % 2 ? -1 : 1)) }));
      const results = await Promise.all(sequences.map(async ({ id, values }) => {
        const out: number[] = [];
        for (let i = 0; i < values.length; i++) {
          out.push(await step(model, values[i]!, { sequence_id: id, sequence_start: i === 0, sequence_end: i === values.length - 1 }));
        }
        return out;
      }));
      sequences.forEach(({ values }, s) => {
        let sum = 0;
        assert.deepEqual(results[s], values.map((v) => (sum += v)), `${model} sequence ${s}`);
      });
    }
  });

  it('answers a clear error for a sequence never started, after its end, and without an id', async () => {
    let r = await server.post('/v2/models/acc/infer', body(1, { sequence_id: 999 }));
    assert.equal(r.status, 404);
    assert.match(r.body.error, /sequence 999 .*never started/);
    assert.equal(await step('acc', 5, { sequence_id: 7, sequence_start: true }), 5);
    assert.equal(await step('acc', 6, { sequence_id: 7, sequence_end: true }), 11);
    r = await server.post('/v2/models/acc/infer', body(1, { sequence_id: 7 }));
    assert.equal(r.status, 404);
    assert.match(r.body.error, /has ended/);
    r = await server.post('/v2/models/acc/infer', body(1, {}));
    assert.equal(r.status, 400);
    assert.match(r.body.error, /sequence_id/);
    r = await server.post('/v2/models/acc/infer', { inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [2, 1], data: [1, 2] }], parameters: { sequence_id: 8, sequence_start: true } });
    assert.equal(r.status, 400);
    assert.match(r.body.error, /batch size 1/);
    // The state input is the server's: a client cannot send it.
    r = await server.post('/v2/models/acc/infer', { inputs: [...body(1, {}).inputs, { name: 'ACCUMULATOR_IN', datatype: 'INT32', shape: [1, 1], data: [100] }], parameters: { sequence_id: 9, sequence_start: true } });
    assert.equal(r.status, 400);
    // Ids beyond 2^53 arrive exact; the largest unsigned 64-bit id works, one more is refused (it became a string id).
    const withId = (id: string) => JSON.stringify(body(4, { sequence_id: 0, sequence_start: true, sequence_end: true })).replace('"sequence_id":0', `"sequence_id":${id}`);
    r = await server.post('/v2/models/acc/infer', withId('18446744073709551615'));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await server.post('/v2/models/acc/infer', withId('18446744073709551616'));
    assert.equal(r.status, 400);
    assert.match(r.body.error, /unsigned 64-bit/);
    // A new START on the same id begins from the initial state again.
    assert.equal(await step('acc', 3, { sequence_id: 7, sequence_start: true }), 3);
    assert.equal(await step('acc', 3, { sequence_id: 7, sequence_start: true, sequence_end: true }), 3);
  });

  it('releases a sequence left idle past max_sequence_idle_microseconds', async () => {
    assert.equal(await step('acc_idle', 4, { sequence_id: 'idle-one', sequence_start: true }), 4);
    assert.equal(await step('acc_idle', 4, { sequence_id: 'idle-one' }), 8);
    await sleep(400);
    const r = await server.post('/v2/models/acc_idle/infer', body(1, { sequence_id: 'idle-one' }));
    assert.equal(r.status, 404);
    assert.match(r.body.error, /released after 100 ms/);
    const stats = await server.get('/v2/models/acc_idle/stats');
    assert.equal(stats.body.model_stats[0].sequence_stats.released_idle, 1);
    assert.equal(stats.body.model_stats[0].sequence_stats.active, 0);
  });

  it('holds new sequences in the backlog beyond the slots, and refuses beyond the backlog', async () => {
    // acc_small: 1 slot, backlog of 1. Sequence A holds the slot; B waits; C is refused.
    assert.equal(await step('acc_small', 1, { sequence_id: 1, sequence_start: true }), 1);
    const waiting = step('acc_small', 2, { sequence_id: 2, sequence_start: true });
    await sleep(50);
    const refused = await server.post('/v2/models/acc_small/infer', body(3, { sequence_id: 3, sequence_start: true }));
    assert.equal(refused.status, 413);
    assert.match(refused.body.error, /max_sequence_backlog/);
    const stats = await server.get('/v2/models/acc_small/stats');
    assert.deepEqual({ ...stats.body.model_stats[0].sequence_stats }, { active: 1, backlog: 1, started: 2, ended: 0, released_idle: 0 });
    assert.equal(await step('acc_small', 10, { sequence_id: 1, sequence_end: true }), 11);
    assert.equal(await waiting, 2);
    assert.equal(await step('acc_small', 5, { sequence_id: 2, sequence_end: true }), 7);
  });

  it('takes sequence_id as uint64 and string over gRPC, on ModelInfer and ModelStreamInfer', async () => {
    const request = (value: number, parameters: Record<string, unknown>) => ({
      model_name: 'acc',
      inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], contents: { int_contents: [value] } }],
      parameters,
    });
    const id = { uint64_param: '4242' };
    const first = await client.call('ModelInfer', request(20, { sequence_id: id, sequence_start: { bool_param: true } }));
    assert.equal(rawOutputValues(first, first.outputs[0].name)[0], 20);
    const values = [1, 2, 3];
    const responses = await streamInfer(client, values.map((v, i) => request(v, { sequence_id: { string_param: 'grpc-seq' }, sequence_start: { bool_param: i === 0 }, sequence_end: { bool_param: i === 2 } })));
    assert.deepEqual(responses.map((r) => rawOutputValues(r.infer_response, r.infer_response.outputs[0].name)[0]), [1, 3, 6]);
    const last = await client.call('ModelInfer', request(22, { sequence_id: id, sequence_end: { bool_param: true } }));
    assert.equal(rawOutputValues(last, last.outputs[0].name)[0], 42);
    await assertStatus(client.call('ModelInfer', request(1, { sequence_id: id })), grpc.status.NOT_FOUND, /has ended/);
    const { config } = await client.call('ModelConfig', { name: 'acc' });
    assert.equal(config.sequence_batching.control_input[0].control[0].kind, 'CONTROL_SEQUENCE_START');
    assert.deepEqual(config.sequence_batching.state[0].dims.map(Number), [1]);
    assert.equal(config.sequence_batching.state[0].data_type, 'TYPE_INT32');
    assert.equal(config.sequence_batching.strategy_choice, 'direct');
  });

  it('takes a uint64 sequence_id beyond 2^53 as that number, apart from the string of its digits (REST and gRPC)', async () => {
    const big = '9007199254740993';
    const post = async (model: string, value: number, id: string, flags: Record<string, boolean>) => {
      const text = JSON.stringify(body(value, { sequence_id: 0, ...flags })).replace('"sequence_id":0', `"sequence_id":${id}`);
      const r = await server.post(`/v2/models/${model}/infer`, text);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.outputs[0].data[0] as number;
    };
    assert.equal(await post('acc', 5, big, { sequence_start: true }), 5);
    assert.equal(await post('acc', 100, JSON.stringify(big), { sequence_start: true }), 100);
    assert.equal(await post('acc', 1, big, { sequence_end: true }), 6, 'the numeric sequence kept its own sum');
    assert.equal(await post('acc', 1, JSON.stringify(big), { sequence_end: true }), 101);
    const request = (model: string, value: number, parameters: Record<string, unknown>) => ({
      model_name: model,
      inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], contents: { int_contents: [value] } }],
      parameters,
    });
    const max = '18446744073709551615';
    const value = async (message: unknown) => {
      const response = await client.call('ModelInfer', message);
      return rawOutputValues(response, response.outputs[0].name)[0];
    };
    assert.equal(await value(request('acc', 7, { sequence_id: { uint64_param: max }, sequence_start: { bool_param: true } })), 7);
    assert.equal(await value(request('acc', 50, { sequence_id: { string_param: max }, sequence_start: { bool_param: true } })), 50);
    assert.equal(await value(request('acc', 1, { sequence_id: { uint64_param: max }, sequence_end: { bool_param: true } })), 8);
    assert.equal(await value(request('acc', 1, { sequence_id: { string_param: max }, sequence_end: { bool_param: true } })), 51);
    // A negative int64_param is the uint64 of the same bits, as Triton reads it (its C++ client sends ids ≥ 2^63 so;
    // sequence-id-types.test.ts): a sequence of its own, started and ended here.
    assert.equal(await value(request('acc', 1, { sequence_id: { int64_param: '-9007199254740993' }, sequence_start: { bool_param: true }, sequence_end: { bool_param: true } })), 1);
    // A UINT64 CORRID control gets the id itself (the model adds its low 32 bits, as INT32, on the END step).
    assert.equal(await post('simple_dyna_sequence', 1, big, { sequence_start: true, sequence_end: true }), 1 + 1 + 1);
    assert.equal(await post('simple_dyna_sequence', 1, max, { sequence_start: true, sequence_end: true }), 1 + 1 - 1);
    assert.equal(await value(request('simple_dyna_sequence', 1, { sequence_id: { uint64_param: big }, sequence_start: { bool_param: true }, sequence_end: { bool_param: true } })), 3);
    // The generate extension reads the id exactly too.
    const generated = await server.post('/v2/models/simple_dyna_sequence/generate', `{"INPUT":1,"sequence_id":${big},"sequence_start":true,"sequence_end":true}`);
    assert.equal(generated.status, 200, JSON.stringify(generated.body));
    assert.equal(generated.body.OUTPUT, 3);
  });

  it('counts sequences in Prometheus metrics', async () => {
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line))?.split(' ').pop());
    assert.ok(value('vireo_sequences_started_total{model="acc",version="1"}') >= 10);
    assert.equal(value('vireo_sequences_ended_total{model="acc_idle",version="1",reason="idle"}'), 1);
    assert.equal(value('vireo_sequences_active{model="acc",version="1"}'), 0);
  });
});
