/** model_warmup: samples run on every instance before READY; bad samples fail the load with their reason. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { makeRepository, writeModel } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ADD_CONFIG, addModel, addRequest } from '../helpers/lifecycle.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const input = (source: Record<string, unknown>, dims = [4]) => ({ INPUT: { data_type: 'TYPE_FP32', dims, ...source } });
const WARMUP = [
  { name: 'zeros', batch_size: 2, inputs: input({ zero_data: true }), count: 3 },
  { name: 'random', inputs: input({ random_data: true }) },
  { name: 'file', batch_size: 2, inputs: input({ input_data_file: 'input.bin' }) },
];
const INSTANCES = 2;

describe('model warmup', () => {
  let server: TestServer;
  let repo: { root: string; cleanup: () => Promise<void> };
  const logs: any[] = [];
  before(async () => {
    repo = await makeRepository({});
    await writeModel(repo.root, 'warm', { config: { ...ADD_CONFIG, instance_group: [{ count: INSTANCES }], model_warmup: WARMUP }, versions: { 1: addModel(1) } });
    await mkdir(join(repo.root, 'warm', 'warmup'));
    await writeFile(join(repo.root, 'warm', 'warmup', 'input.bin'), new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
    const sink = new Writable({ write(chunk, _encoding, done) { logs.push(JSON.parse(chunk.toString())); done(); } });
    server = await startTestServer(repo.root, { modelControlMode: 'explicit', loadModels: ['warm'], logger: pino({ level: 'debug' }, sink) });
  });
  after(async () => {
    await server.close();
    await repo.cleanup();
  });

  it('runs every sample count times on every instance before the model is READY', async () => {
    const warmed = logs.find((l) => l.msg === 'model warmed up' && l.model === 'warm');
    // zeros 3 times, random and file once each (count 0 means once), on each instance.
    assert.equal(warmed?.executions, (3 + 1 + 1) * INSTANCES);
    const loaded = logs.findIndex((l) => l.msg === 'model loaded' && l.model === 'warm');
    assert.ok(logs.indexOf(warmed) < loaded, 'warm before loaded');
    assert.deepEqual((await server.post('/v2/models/warm/infer', addRequest([1, 2, 3, 4]))).body.outputs[0].data, [2, 3, 4, 5]);
  });

  it('a sample that fails to execute fails the load with its reason', async () => {
    const config = { ...ADD_CONFIG, input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [-1] }], model_warmup: [{ name: 'wrong_width', inputs: input({ zero_data: true }, [3]) }] };
    const response = await server.post('/v2/repository/models/warm/load', { parameters: { config: JSON.stringify(config) } });
    assert.equal(response.status, 503);
    assert.match(response.body.error, /model_warmup "wrong_width" failed/);
    assert.equal((await server.post('/v2/models/warm/infer', addRequest([1, 2, 3, 4]))).status, 200, 'the warm version still serves');
  });

  it('refuses invalid samples with the reason', async () => {
    const cases: [unknown, number, RegExp][] = [
      [[{ name: 's', inputs: { NOPE: { data_type: 'TYPE_FP32', dims: [4], zero_data: true } } }], 400, /unknown input "NOPE"/],
      [[{ name: 's', inputs: input({ zero_data: true, random_data: true }) }], 400, /exactly one of zero_data, random_data and input_data_file/],
      [[{ name: 's', inputs: { INPUT: { data_type: 'TYPE_INT32', dims: [4], zero_data: true } } }], 400, /is FP32, not INT32/],
      [[{ name: 's', batch_size: 9, inputs: input({ zero_data: true }) }], 400, /batch_size 9 is above max_batch_size 8/],
      [[{ name: 's', inputs: input({ input_data_file: '../config.yaml' }) }], 400, /segments are refused/],
      [[{ name: 's', inputs: input({ input_data_file: 'missing.bin' }) }], 400, /does not exist/],
      [[{ name: 's', inputs: input({ input_data_file: 'input.bin' }, [2]) }], 400, /dims \[2\] do not match/],
    ];
    for (const [warmup, status, message] of cases) {
      const config = { ...ADD_CONFIG, model_warmup: warmup };
      const response = await server.post('/v2/repository/models/warm/load', { parameters: { config: JSON.stringify(config) } });
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.match(response.body.error, message);
    }
    await writeFile(join(repo.root, 'warm', 'warmup', 'short.bin'), new Uint8Array(6));
    const short = await server.post('/v2/repository/models/warm/load', { parameters: { config: JSON.stringify({ ...ADD_CONFIG, model_warmup: [{ name: 's', inputs: input({ input_data_file: 'short.bin' }) }] }) } });
    assert.equal(short.status, 400);
    assert.match(short.body.error, /short.bin has 6 bytes; expected 16 \(one item\)/);
  });
});
