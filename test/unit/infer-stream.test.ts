/**
 * ModelStreamInfer's handler with a scripted call and facade: answers in request order whatever the
 * completion order, errors as error_message, back-pressure in both directions, and cancellation.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { VireoError } from '../../src/core/errors.js';
import type { InferRequest, InferResponse } from '../../src/core/inference.js';
import { silentLogger } from '../../src/logging/logger.js';
import { handleInferStream, type StreamRegistry } from '../../src/protocols/oip-grpc/infer-stream.js';
import type { InferenceServer } from '../../src/server/inference-server.js';

/** A stand-in for grpc-js's ServerDuplexStream: records writes, pauses and the end. */
class FakeCall extends EventEmitter {
  cancelled = false;
  writes: any[] = [];
  pauses = 0;
  resumes = 0;
  ended = 0;
  writeReturns = true;
  write(message: unknown): boolean { this.writes.push(message); return this.writeReturns; }
  pause(): this { this.pauses++; return this; }
  resume(): this { this.resumes++; return this; }
  end(): void { this.ended++; }
}

/** A facade whose infer calls wait until the test settles them. */
function scriptedServer() {
  const calls: { request: InferRequest; resolve(r: InferResponse): void; reject(e: Error): void }[] = [];
  const server = {
    infer: (request: InferRequest) => new Promise<InferResponse>((resolve, reject) => calls.push({ request, resolve, reject })),
    requireModel: () => undefined,
  } as unknown as InferenceServer;
  return { server, calls };
}

const message = (id: string) => ({
  model_name: 'm', model_version: '', id, parameters: {}, outputs: [],
  inputs: [{ name: 'x', datatype: 'INT32', shape: ['1'], parameters: {}, contents: null }],
  raw_input_contents: [Buffer.from(new Int32Array([7]).buffer)],
});
const response = (id: string): InferResponse => ({ model: 'm', version: '1', id, outputs: [] });
const settle = () => new Promise((r) => setImmediate(r));

function start(inFlightLimit?: number) {
  const call = new FakeCall();
  const { server, calls } = scriptedServer();
  const streams: StreamRegistry = new Set();
  handleInferStream(call as never, { server, logger: silentLogger(), streams, inFlightLimit });
  return { call, calls, streams };
}

describe('ModelStreamInfer handler', () => {
  it('answers in request order whatever order requests complete in; a failure is an error_message', async () => {
    const { call, calls, streams } = start();
    for (const id of ['a', 'b', 'c']) call.emit('data', message(id));
    call.emit('end');
    assert.equal(calls.length, 3);
    calls[2]!.resolve(response('c'));
    calls[1]!.reject(new VireoError('VIREO_ERR_INPUT_SHAPE', 'bad shape'));
    await settle();
    assert.equal(call.writes.length, 0, 'nothing may be written before the first request is answered');
    calls[0]!.resolve(response('a'));
    await settle();
    assert.deepEqual(call.writes.map((w) => [w.error_message, w.infer_response.id]), [['', 'a'], ['bad shape', 'b'], ['', 'c']]);
    assert.equal(call.ended, 1);
    assert.equal(streams.size, 0);
  });

  it('a request that cannot be parsed is answered on the stream without reaching the facade', async () => {
    const { call, calls } = start();
    call.emit('data', { ...message('bad'), raw_input_contents: [] });
    call.emit('end');
    await settle();
    assert.equal(calls.length, 0);
    assert.match(call.writes[0].error_message, /int_contents has 0 elements/);
    assert.equal(call.writes[0].infer_response.id, 'bad');
  });

  it('stops reading at the in-flight limit and resumes when an answer goes out', async () => {
    const { call, calls } = start(2);
    call.emit('data', message('1'));
    assert.equal(call.pauses, 0);
    call.emit('data', message('2'));
    assert.equal(call.pauses, 1);
    calls[0]!.resolve(response('1'));
    await settle();
    assert.equal(call.resumes, 1);
    assert.equal(call.writes.length, 1);
  });

  it('waits for drain before writing the next answer when the client reads slowly', async () => {
    const { call, calls } = start();
    call.writeReturns = false;
    call.emit('data', message('1'));
    call.emit('data', message('2'));
    calls[0]!.resolve(response('1'));
    calls[1]!.resolve(response('2'));
    await settle();
    assert.equal(call.writes.length, 1);
    call.writeReturns = true;
    call.emit('drain');
    await settle();
    assert.deepEqual(call.writes.map((w) => w.infer_response.id), ['1', '2']);
  });

  it('cancellation aborts the signal of every admitted request and writes nothing more', async () => {
    const { call, calls, streams } = start();
    call.emit('data', message('1'));
    call.emit('data', message('2'));
    call.cancelled = true;
    call.emit('cancelled');
    assert.ok(calls.every((c) => c.request.signal?.aborted));
    calls[0]!.reject(new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'cancelled'));
    calls[1]!.reject(new VireoError('VIREO_ERR_REQUEST_CANCELLED', 'cancelled'));
    await settle();
    assert.equal(call.writes.length, 0);
    assert.equal(call.ended, 0);
    assert.equal(streams.size, 0);
  });

  it('shutdown drain ends the stream after its admitted requests and ignores new ones', async () => {
    const { call, calls, streams } = start();
    call.emit('data', message('1'));
    for (const drain of streams) drain();
    call.emit('data', message('late'));
    assert.equal(calls.length, 1);
    assert.equal(call.ended, 0);
    calls[0]!.resolve(response('1'));
    await settle();
    assert.equal(call.writes.length, 1);
    assert.equal(call.ended, 1);
  });
});
