/**
 * A Triton model repository served as it is: config.pbtxt read against model_config.proto, the
 * settings in force shown in Triton's form over REST and gRPC, unimplemented fields warned about
 * once each, and a load request's protobuf-JSON `config` as Triton's own client sends it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { GrpcInferenceClient } from '../../src/client/index.js';
import { simpleModel } from '../../tools/modelgen/models.js';
import { captureLogger } from '../helpers/logs.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { add, range16, simpleRequest, sub } from '../helpers/simple.js';

const SIMPLE_PBTXT = await readFile(new URL('../fixtures/triton-configs/simple.pbtxt', import.meta.url), 'utf8');

describe('Triton repository with config.pbtxt', () => {
  let server: TestServer;
  let client: GrpcInferenceClient;
  let cleanup: () => Promise<void>;
  const { logger, lines } = captureLogger();

  before(async () => {
    const repo = await makeRepository({
      simple: { config: SIMPLE_PBTXT, configFile: 'config.pbtxt', versions: { 1: simpleModel() } },
      tuned: {
        config: `${SIMPLE_PBTXT.replace('"simple"', '"tuned"')}
instance_group [ { count: 2 kind: KIND_CPU } ]
dynamic_batching { max_queue_delay_microseconds: 500 }
optimization { input_pinned_memory { enable: true } }
model_operations { op_library_filename: "x.so" }
parameters { key: "note" value { string_value: "kept" } }
`,
        configFile: 'config.pbtxt',
        versions: { 1: simpleModel() },
      },
      typo: { config: 'max_batch_size: 8\ninstance_groups [{ count: 2 }]\n', configFile: 'config.pbtxt', versions: { 1: simpleModel() } },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { strictReadiness: false, logger, modelControlMode: 'explicit', loadModels: ['*'] });
    client = new GrpcInferenceClient(server.grpcTarget);
  });
  after(async () => {
    client.close();
    await server.close();
    await cleanup();
  });

  it('serves Triton\'s simple example with its max_batch_size 8 (not the auto-complete default of 4)', async () => {
    const a = range16(3);
    const b = range16(1);
    const batch8 = {
      inputs: ['INPUT0', 'INPUT1'].map((name, k) => ({ name, datatype: 'INT32', shape: [8, 16], data: new Array(8).fill(k === 0 ? a : b).flat() })),
    };
    const { status, body } = await server.post('/v2/models/simple/infer', batch8);
    assert.equal(status, 200);
    assert.deepEqual(body.outputs.find((o: any) => o.name === 'OUTPUT0').data.slice(0, 16), add(a, b));
    assert.deepEqual(body.outputs.find((o: any) => o.name === 'OUTPUT1').data.slice(16, 32), sub(a, b));
  });

  it('GET .../config answers in Triton\'s form: enum names, every scalar, numbers for 64-bit fields', async () => {
    const { status, body } = await server.get('/v2/models/tuned/config');
    assert.equal(status, 200);
    assert.equal(body.name, 'tuned');
    assert.equal(body.platform, 'onnxruntime_onnx');
    assert.equal(body.max_batch_size, 8);
    assert.deepEqual(body.input[0], { name: 'INPUT0', data_type: 'TYPE_INT32', format: 'FORMAT_NONE', dims: [16], is_shape_tensor: false, allow_ragged_batch: false, optional: false, is_non_linear_format_io: false });
    assert.equal(body.instance_group[0].count, 2);
    assert.equal(body.instance_group[0].kind, 'KIND_CPU');
    assert.equal(body.dynamic_batching.max_queue_delay_microseconds, 500);
    assert.deepEqual(body.parameters, { note: { string_value: 'kept' } });
    assert.equal(body.optimization?.input_pinned_memory, undefined); // dropped with a warning, never claimed
  });

  it('gRPC ModelConfig carries the same settings', async () => {
    const config = await client.modelConfig('tuned') as any;
    assert.equal(config.max_batch_size, 8);
    assert.equal(config.instance_group[0].count, 2);
    assert.equal(config.input[0].data_type, 'TYPE_INT32');
    assert.equal(config.dynamic_batching.max_queue_delay_microseconds, '500');
  });

  it('warns once per field it does not implement, naming the field', () => {
    const warned = lines.filter((l) => l.model === 'tuned' && typeof l.field === 'string').map((l) => l.field);
    assert.deepEqual(warned.sort(), ['model_operations', 'optimization.input_pinned_memory']);
    const line = lines.find((l) => l.field === 'model_operations')!;
    assert.equal(line.level, 40);
    assert.match(String(line.msg), /"model_operations" is not implemented by Vireo and is ignored/);
  });

  it('a misspelt field is an error with line and column, and the model is not served', async () => {
    const row = (await server.post('/v2/repository/index', {})).body.find((e: any) => e.name === 'typo');
    assert.equal(row.state, 'UNAVAILABLE');
    assert.match(row.reason, /config\.pbtxt:2:1: message ModelConfig has no field "instance_groups"/);
  });

  it('a load request takes protobuf JSON as Triton\'s client sends it ({"max_batch_size":"16"})', async () => {
    const config = JSON.stringify({ max_batch_size: '16', input: [{ name: 'INPUT0', data_type: 'TYPE_INT32', dims: ['16'] }, { name: 'INPUT1', data_type: 11 - 3, dims: [16] }], instanceGroup: [{ kind: 'KIND_CPU', count: '1' }] });
    const loaded = await server.post('/v2/repository/models/simple/load', { parameters: { config } });
    assert.equal(loaded.status, 200, JSON.stringify(loaded.body));
    const body = (await server.get('/v2/models/simple/config')).body;
    assert.equal(body.max_batch_size, 16);
    assert.deepEqual(body.input.map((i: any) => i.data_type), ['TYPE_INT32', 'TYPE_INT32']);
  });
});
