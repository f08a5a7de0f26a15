/**
 * A long-lived ModelStreamInfer call (Triton's streaming clients keep one open for a whole session)
 * holds no memory for the requests it has answered: neither for an ordinary model nor for a
 * decoupled one. Each request's cancellation listener used to stay on the stream's signal, and with
 * it the request's inputs, until the stream ended (20,000 requests of 16 KiB kept 660 MB).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { identityModel } from '../../tools/modelgen/models.js';
import { serveWithGrpcClient, type RpcClient } from '../helpers/grpc.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const arrayBuffers = () => {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
};

const handlerApi = join(import.meta.dirname, '..', '..', 'src', 'backends', 'handler', 'handler-api.js');
/** Decoupled: one response holding the first element of X. */
const firstSource = `
import type { HandlerRequest } from ${JSON.stringify(handlerApi)};
export async function* stream(request: HandlerRequest) {
  yield { outputs: { Y: { data: Int32Array.of((request.inputs.X!.data as Int32Array)[0]!) } } };
}
`;

const INPUT_BYTES = 64 * 1024;
const MB = 1024 * 1024;

/** Sends `count` requests one after the other on one open stream; returns the growth of array buffers while it stays open. */
async function growthOnOpenStream(client: RpcClient, count: number, request: (i: number) => unknown): Promise<number> {
  const call = client.raw.ModelStreamInfer();
  let next: (response: any) => void = () => undefined;
  call.on('data', (response: any) => next(response));
  const send = (message: unknown) => new Promise<any>((resolve) => {
    next = resolve;
    call.write(message);
  });
  assert.equal((await send(request(-1))).error_message, '');
  const before = arrayBuffers();
  for (let i = 0; i < count; i++) {
    const response = await send(request(i));
    assert.equal(response.error_message, '', response.error_message);
  }
  const growth = arrayBuffers() - before;
  call.end();
  await new Promise((resolve) => call.on('end', resolve));
  return growth;
}

describe('a long-lived ModelStreamInfer call', () => {
  let client: RpcClient;
  let close: () => Promise<void>;

  before(async () => {
    ({ client, close } = await serveWithGrpcClient({
      id: {
        config: { max_batch_size: 8, input: [{ name: 'INPUT', data_type: 'TYPE_INT32', dims: [-1] }], output: [{ name: 'OUTPUT', data_type: 'TYPE_INT32', dims: [-1] }] },
        versions: { 1: identityModel('INT32') },
      },
      first: {
        config: {
          backend: 'typescript', max_batch_size: 0, model_transaction_policy: { decoupled: true },
          input: [{ name: 'X', data_type: 'TYPE_INT32', dims: [-1] }],
          output: [{ name: 'Y', data_type: 'TYPE_INT32', dims: [1] }],
        },
        versions: { 1: firstSource },
        filename: 'model.ts',
      },
    }));
  });
  after(() => close());

  const raw = Buffer.alloc(INPUT_BYTES, 1);

  it('keeps nothing of the requests it answered (ordinary model)', async () => {
    const count = 1000;
    const growth = await growthOnOpenStream(client, count, () => ({
      model_name: 'id', inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, INPUT_BYTES / 4] }], raw_input_contents: [raw],
    }));
    assert.ok(growth < 16 * MB, `array buffers grew ${(growth / MB).toFixed(1)} MB over ${count} answered requests of ${INPUT_BYTES / 1024} KiB`);
  });

  it('keeps nothing of the requests it answered (decoupled model)', async () => {
    const count = 1000;
    const growth = await growthOnOpenStream(client, count, () => ({
      model_name: 'first', inputs: [{ name: 'X', datatype: 'INT32', shape: [INPUT_BYTES / 4] }], raw_input_contents: [raw],
    }));
    assert.ok(growth < 16 * MB, `array buffers grew ${(growth / MB).toFixed(1)} MB over ${count} answered requests of ${INPUT_BYTES / 1024} KiB`);
  });
});
