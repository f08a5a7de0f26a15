/**
 * The type of a sequence id, as Triton keeps it. Expected values from Triton:
 * - gRPC: an `int64_param` sequence_id is read as the uint64 of the same 64 bits (server
 *   src/grpc/infer_handler.cc, SetInferenceRequestMetadata → TRITONSERVER_InferenceRequestSetCorrelationId,
 *   a uint64) — the way Triton's C++ client (src/c++/library/grpc_client.cc) sends a uint64 id of 2^63 or
 *   more: int64 -5 is id 2^64 − 5, the same sequence as uint64 18446744073709551611.
 * - REST: a negative JSON integer is neither a uint64 nor a string and is refused
 *   (src/http_server.cc, HTTPAPIServer::ParseJsonTritonParams: "Unable to parse 'sequence_id'").
 * - A uint64 id stays a number wherever the request runs: a handler model that forwards its request's
 *   parameters to a stateful model (BLS) continues the client's sequence, and a UINT64 CORRID control
 *   gets the number. Responses carry no sequence_id parameter (Triton echoes none).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dynaSequenceModel } from '../../tools/modelgen/models.js';
import { assertStatus, grpc, rawOutputValues, tritonClient, type RpcClient } from '../helpers/grpc.js';
import { makeRepository, type ModelFiles } from '../helpers/repository.js';
import { accumulator } from '../helpers/accumulator.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A handler that forwards each request, parameters and all, to `target` through BLS. */
function forwarder(target: string, parameters: Record<string, string> = {}): ModelFiles {
  const source = `
let host;
export function initialize(context) { host = context; }
export async function execute(requests) {
  const answers = [];
  for (const r of requests) {
    const out = await host.infer(${JSON.stringify(target)}, { INPUT: { datatype: 'INT32', shape: [1, 1], data: r.inputs.INPUT.data } }, { parameters: r.parameters });
    answers.push({ outputs: { OUTPUT: { data: out.OUTPUT.data } } });
  }
  return answers;
}`;
  return {
    config: {
      backend: 'typescript', max_batch_size: 0, parameters,
      input: [{ name: 'INPUT', data_type: 'TYPE_INT32', dims: [1] }],
      output: [{ name: 'OUTPUT', data_type: 'TYPE_INT32', dims: [1] }],
    },
    versions: { 1: source },
    filename: 'model.ts',
  };
}

const BIG = '9007199254740993'; // 2^53 + 1: held as its text, marked numeric

describe('sequence id types, as Triton keeps them', () => {
  let server: TestServer;
  let client: RpcClient;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      acc: accumulator(),
      // Triton's simple_dyna_sequence: OUTPUT = (INPUT + START + END × CORRID) × READY, CORRID a UINT64 control.
      simple_dyna_sequence: {
        config: await readFile(join(import.meta.dirname, '..', '..', 'examples', 'triton-models', 'simple_dyna_sequence', 'config.pbtxt'), 'utf8'),
        configFile: 'config.pbtxt',
        versions: { 1: dynaSequenceModel() },
      },
      // On the shared handler thread, and on a thread of their own.
      to_acc: forwarder('acc'),
      to_acc_own: forwarder('acc', { execution_worker: 'dedicated' }),
      to_dyna: forwarder('simple_dyna_sequence'),
      to_dyna_own: forwarder('simple_dyna_sequence', { execution_worker: 'dedicated' }),
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
    client = tritonClient(server.grpcTarget);
  });
  after(async () => {
    client?.close();
    await server?.close();
    await cleanup?.();
  });

  const grpcRequest = (model: string, value: number, parameters: Record<string, unknown>) => ({
    model_name: model,
    inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], contents: { int_contents: [value] } }],
    parameters,
  });
  const grpcValue = async (message: unknown) => {
    const response = await client.call('ModelInfer', message);
    assert.equal(response.parameters.sequence_id, undefined, 'no sequence_id echoed');
    return rawOutputValues(response, response.outputs[0].name)[0];
  };
  /** A REST step with the id written as a bare JSON integer (exact beyond 2^53). */
  const restStep = async (model: string, value: number, id: string, flags: Record<string, boolean>) => {
    const shape = model.startsWith('to_') ? [1] : [1, 1];
    const text = JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'INT32', shape, data: [value] }], parameters: { sequence_id: 0, ...flags } })
      .replace('"sequence_id":0', `"sequence_id":${id}`);
    return server.post(`/v2/models/${model}/infer`, text);
  };
  const restValue = async (model: string, value: number, id: string, flags: Record<string, boolean>) => {
    const r = await restStep(model, value, id, flags);
    assert.equal(r.status, 200, `${model}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.parameters, undefined, 'no parameters echoed');
    return r.body.outputs[0].data[0] as number;
  };

  it('gRPC: a negative int64_param is the uint64 of the same bits; REST refuses a negative id', async () => {
    const start = { bool_param: true };
    assert.equal(await grpcValue(grpcRequest('acc', 5, { sequence_id: { int64_param: '-5' }, sequence_start: start })), 5);
    // The same sequence, named as uint64 2^64 − 5.
    assert.equal(await grpcValue(grpcRequest('acc', 1, { sequence_id: { uint64_param: '18446744073709551611' }, sequence_end: { bool_param: true } })), 6);
    // A UINT64 CORRID gets 2^64 − 5 (the model adds its low 32 bits as INT32: −5) on the END step.
    assert.equal(await grpcValue(grpcRequest('simple_dyna_sequence', 1, { sequence_id: { int64_param: '-5' }, sequence_start: start, sequence_end: { bool_param: true } })), 1 + 1 - 5);
    // int64 min is 2^63, a valid id.
    assert.equal(await grpcValue(grpcRequest('acc', 9, { sequence_id: { int64_param: '-9223372036854775808' }, sequence_start: start, sequence_end: { bool_param: true } })), 9);
    // REST: Triton cannot read -5 as a uint64 or a string and refuses it; so does Vireo (400).
    const refused = await restStep('acc', 1, '-5', { sequence_start: true });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error, /sequence_id/);
    await assertStatus(client.call('ModelInfer', grpcRequest('acc', 1, { sequence_id: { int64_param: '-5' } })), grpc.status.NOT_FOUND, /has ended/);
  });

  it('a uint64 id beyond 2^53 stays a number through a handler that forwards it (BLS), on either kind of handler thread', async () => {
    // Direct, for reference: 1 + START + END × CORRID (low 32 bits of 2^53 + 1 are 1).
    assert.equal(await restValue('simple_dyna_sequence', 1, BIG, { sequence_start: true, sequence_end: true }), 3);
    for (const front of ['to_dyna', 'to_dyna_own']) {
      assert.equal(await restValue(front, 1, BIG, { sequence_start: true, sequence_end: true }), 3, front);
      assert.equal(await grpcValue({ ...grpcRequest(front, 1, { sequence_id: { uint64_param: BIG }, sequence_start: { bool_param: true }, sequence_end: { bool_param: true } }), inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1], contents: { int_contents: [1] } }] }), 3, front);
    }
    // A sequence started directly continues through the handler: one sequence, one running sum.
    for (const front of ['to_acc', 'to_acc_own']) {
      assert.equal(await restValue('acc', 5, BIG, { sequence_start: true }), 5);
      assert.equal(await restValue(front, 2, BIG, {}), 7, front);
      // The string of the same digits is another sequence, never started.
      const other = await restStep(front, 1, JSON.stringify(BIG), {});
      assert.equal(other.status, 404, JSON.stringify(other.body));
      assert.equal(await restValue('acc', 1, BIG, { sequence_end: true }), 8);
    }
  });
});
