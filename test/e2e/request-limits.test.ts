/**
 * The request limits that have options of their own (core/request-limits.ts), over every path a
 * request can take into a real server: tensor bytes per input and per request (REST JSON, the binary
 * extension, a raw body, V1, gRPC typed contents and raw_input_contents), inputs, outputs and
 * parameters per request, dataframe rows and columns (CSV, Arrow, JSON records and columns), multipart parts and
 * their total size. A request over a limit is answered 413 / RESOURCE_EXHAUSTED naming the limit's
 * option; a request at the limit is served. The limits are set low so each case is a small request.
 */
import assert from 'node:assert/strict';
import type { ClientHttp2Session } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import sharp from 'sharp';
import { identityModel, mlpModel, simpleModel } from '../../tools/modelgen/models.js';
import { startChildServer, type ChildServer } from '../helpers/child-server.js';
import { assertStatus, grpc, tritonClient, type RpcClient } from '../helpers/grpc.js';
import { INFER_PATH, frame, pb, rawCall, rawSession } from '../helpers/raw-grpc.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const LIMITS = {
  maxTensorBytes: 4096, // 1,024 FP32 elements
  maxRequestTensorBytes: 6144,
  maxInputs: 3,
  maxOutputs: 2,
  maxParameters: 3,
  maxDataframeRows: 5,
  maxDataframeColumns: 6,
  maxMultipartParts: 2,
};
const BODY_LIMIT = 64 * 1024;
const COLUMNS = ['a', 'b', 'c', 'd'];

const fp32Input = (name: string, n: number) => ({ name, datatype: 'FP32', shape: [1, n], data: Array.from({ length: n }, (_, i) => i) });

describe('request limits with options of their own', () => {
  let server: TestServer;
  let client: RpcClient;
  let session: ClientHttp2Session;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      identity_fp32: { versions: { 1: identityModel('FLOAT') } },
      identity_bytes: { versions: { 1: identityModel('STRING') } },
      image_u8: {
        config: { max_batch_size: 2, input: [{ name: 'INPUT', data_type: 'TYPE_UINT8', dims: [3, 32, 32], image: {} }] },
        versions: { 1: identityModel('UINT8', ['batch', 3, 32, 32]) },
      },
      tabular: {
        config: {
          backend: 'onnx', max_batch_size: 64,
          input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [4], columns: COLUMNS }],
          output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [3] }],
        },
        versions: { 1: mlpModel([4, 8, 3], 5) },
      },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { bodyLimit: BODY_LIMIT, requestLimits: LIMITS });
    client = tritonClient(server.grpcTarget);
    session = rawSession(server.grpcTarget);
  });
  after(async () => {
    session.close();
    client.close();
    await server.close();
    await cleanup();
  });

  const refused = (answer: { status: number; body: any }, option: string) => {
    assert.equal(answer.status, 413, JSON.stringify(answer.body));
    assert.equal(typeof answer.body.error, 'string');
    assert.ok(answer.body.error.includes(option), answer.body.error);
  };

  describe('tensor bytes', () => {
    it('REST JSON: an input at the limit is served, one element more is refused', async () => {
      const ok = await server.post('/v2/models/identity_fp32/infer', { inputs: [fp32Input('INPUT', 1024)] });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual(ok.body.outputs[0].data.slice(0, 3), [0, 1, 2]);
      refused(await server.post('/v2/models/identity_fp32/infer', { inputs: [fp32Input('INPUT', 1025)] }), '--max-tensor-bytes');
    });

    it('REST JSON: the shape alone decides, before the data is read (one value for a huge shape)', async () => {
      const answer = await server.post('/v2/models/identity_fp32/infer', { inputs: [{ name: 'INPUT', datatype: 'FP64', shape: [1, 100_000_000], data: [1] }] });
      refused(answer, '--max-tensor-bytes');
      assert.match(answer.body.error, /800000000 bytes/);
    });

    it('REST JSON: inputs under the per-input limit but over the per-request total', async () => {
      refused(await server.post('/v2/models/identity_fp32/infer', { inputs: [fp32Input('INPUT', 800), fp32Input('OTHER', 800)] }), '--max-tensor-bytes-total');
    });

    it('binary extension: binary_data_size and shape over the limit', async () => {
      const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 2000], parameters: { binary_data_size: 8000 } }] }));
      const response = await fetch(`${server.url}/v2/models/identity_fp32/infer`, {
        method: 'POST',
        body: Buffer.concat([header, Buffer.alloc(8000)]),
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      });
      refused({ status: response.status, body: await response.json() }, '--max-tensor-bytes');
    });

    it('raw binary body (Inference-Header-Content-Length: 0)', async () => {
      const call = (bytes: number) => fetch(`${server.url}/v2/models/identity_fp32/infer`, {
        method: 'POST', body: Buffer.alloc(bytes), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '0' },
      });
      const ok = await call(4096);
      assert.equal(ok.status, 200, await ok.text());
      const over = await call(8000);
      refused({ status: over.status, body: await over.json() }, '--max-tensor-bytes');
    });

    it('V1 (instances and columnar inputs)', async () => {
      const row = Array.from({ length: 2000 }, () => 0.5);
      refused(await server.post('/v1/models/identity_fp32:predict', { instances: [row] }), '--max-tensor-bytes');
      refused(await server.post('/v1/models/identity_fp32:predict', { inputs: [row] }), '--max-tensor-bytes');
    });

    it('gRPC typed contents (fp32_contents)', async () => {
      const request = (n: number) => ({ model_name: 'identity_fp32', inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, n], contents: { fp32_contents: Array.from({ length: n }, () => 1) } }] });
      const ok = await client.call('ModelInfer', request(1024));
      assert.equal(ok.outputs[0].name, 'OUTPUT');
      await assertStatus(client.call('ModelInfer', request(2000)), grpc.status.RESOURCE_EXHAUSTED, /--max-tensor-bytes/);
    });

    it('gRPC raw_input_contents', async () => {
      const request = { model_name: 'identity_fp32', inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 2000] }], raw_input_contents: [Buffer.alloc(8000)] };
      await assertStatus(client.call('ModelInfer', request), grpc.status.RESOURCE_EXHAUSTED, /--max-tensor-bytes/);
    });

    it('gRPC int64_contents of one-byte varints: refused from the encoded message, before protobufjs decodes it', async () => {
      // 600 packed one-byte varints are 600 bytes on the wire and 4,800 bytes as an INT64 tensor.
      const contents = pb.bytes(3, Buffer.alloc(600, 1));
      const shape = Buffer.concat([pb.int(3, 1), pb.int(3, 600)]);
      const message = Buffer.concat([pb.bytes(1, 'identity_fp32'), pb.message(5, pb.bytes(1, 'INPUT'), pb.bytes(2, 'INT64'), shape, pb.bytes(5, contents))]);
      const answer = await rawCall(session, INFER_PATH, frame(message));
      assert.equal(answer.status, grpc.status.RESOURCE_EXHAUSTED, answer.message);
      // The scan's words: the input is counted by position, its name not yet decoded.
      assert.match(answer.message, /inputs\[0\] \(typed contents\).*--max-tensor-bytes/);
    });
  });

  describe('images for the image codec', () => {
    it('more images than max_batch_size are refused before any is decoded', async () => {
      const image = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer();
      const request = (images: Buffer[]) => ({ inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [images.length, 1], data: images.map((b) => ({ b64: b.toString('base64') })) }] });
      const one = await server.post('/v2/models/image_u8/infer', request([image]));
      assert.equal(one.status, 200, JSON.stringify(one.body));
      // The pixel of an 8×8 image of #336699 stretched to 32×32, channel 0 (R) first: 0x33.
      assert.equal(one.body.outputs[0].data[0], 0x33);
      // Three images for max_batch_size 2, the last not an image at all: had they been decoded first,
      // the answer would be that one's decoding error.
      const three = await server.post('/v2/models/image_u8/infer', request([image, image, Buffer.from('not an image')]));
      assert.equal(three.status, 400, JSON.stringify(three.body));
      assert.match(three.body.error, /batch-size must be <= 2 .*3 images, checked before decoding/);
    });
  });

  describe('inputs and outputs per request', () => {
    it('REST JSON: more inputs than the limit', async () => {
      const inputs = ['A', 'B', 'C', 'D'].map((n) => fp32Input(n, 1));
      refused(await server.post('/v2/models/identity_fp32/infer', { inputs }), '--max-request-inputs');
    });

    it('REST JSON: more outputs than the limit', async () => {
      const outputs = ['X', 'Y', 'Z'].map((name) => ({ name }));
      refused(await server.post('/v2/models/identity_fp32/infer', { inputs: [fp32Input('INPUT', 1)], outputs }), '--max-request-outputs');
    });

    it('V1: more named inputs than the limit', async () => {
      refused(await server.post('/v1/models/identity_fp32:predict', { inputs: { A: [[1]], B: [[1]], C: [[1]], D: [[1]] } }), '--max-request-inputs');
    });

    it('gRPC: more inputs, more outputs than the limit', async () => {
      const input = (name: string) => ({ name, datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [1] } });
      await assertStatus(client.call('ModelInfer', { model_name: 'identity_fp32', inputs: ['A', 'B', 'C', 'D'].map(input) }), grpc.status.RESOURCE_EXHAUSTED, /--max-request-inputs/);
      await assertStatus(client.call('ModelInfer', { model_name: 'identity_fp32', inputs: [input('INPUT')], outputs: [{ name: 'X' }, { name: 'Y' }, { name: 'Z' }] }), grpc.status.RESOURCE_EXHAUSTED, /--max-request-outputs/);
    });

    it('REST JSON: parameters of the request, its inputs and outputs together, up to the limit', async () => {
      const input = { ...fp32Input('INPUT', 1), parameters: { a: 1 } };
      const atLimit = await server.post('/v2/models/identity_fp32/infer', { parameters: { x: 'y' }, inputs: [input], outputs: [{ name: 'OUTPUT', parameters: { b: true } }] });
      assert.equal(atLimit.status, 200, JSON.stringify(atLimit.body));
      refused(await server.post('/v2/models/identity_fp32/infer', { parameters: { x: 'y', z: 1 }, inputs: [input], outputs: [{ name: 'OUTPUT', parameters: { b: true } }] }), '--max-request-parameters');
      // Counted before any is read: a refused request's parameters are not validated first.
      refused(await server.post('/v2/models/identity_fp32/infer', { parameters: Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`p${i}`, [i]])), inputs: [fp32Input('INPUT', 1)] }), '--max-request-parameters');
    });

    it('gRPC: parameters over the limit', async () => {
      const input = { name: 'INPUT', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [1] }, parameters: { a: { int64_param: 1 } } };
      const many = { x: { string_param: 'y' }, y: { bool_param: true }, z: { int64_param: 2 } };
      await assertStatus(client.call('ModelInfer', { model_name: 'identity_fp32', parameters: many, inputs: [input] }), grpc.status.RESOURCE_EXHAUSTED, /4 parameters.*--max-request-parameters/);
      const served = await client.call('ModelInfer', { model_name: 'identity_fp32', parameters: { x: { string_param: 'y' } }, inputs: [input] });
      assert.equal(served.model_name, 'identity_fp32');
    });

    it('gRPC: ten thousand parameters, of the request or of an input, are refused from the encoded message', async () => {
      const entry = pb.message(4, pb.bytes(1, 'k')); // a map entry (key only), field 4 of both messages
      const own = Buffer.concat([pb.bytes(1, 'identity_fp32'), ...Array.from({ length: 10_000 }, () => entry), pb.message(5, pb.bytes(1, 'INPUT'))]);
      const inInput = Buffer.concat([pb.bytes(1, 'identity_fp32'), pb.message(5, Buffer.concat([pb.bytes(1, 'INPUT'), ...Array.from({ length: 10_000 }, () => entry)]))]);
      for (const message of [own, inInput]) {
        const answer = await rawCall(session, INFER_PATH, frame(message));
        assert.equal(answer.status, grpc.status.RESOURCE_EXHAUSTED, answer.message);
        assert.match(answer.message, /4 parameters.*--max-request-parameters/);
      }
    });

    it('gRPC: ten thousand empty inputs are refused from the encoded message', async () => {
      const input = pb.message(5, pb.bytes(1, 'x'));
      const message = Buffer.concat([pb.bytes(1, 'identity_fp32'), ...Array.from({ length: 10_000 }, () => input)]);
      const answer = await rawCall(session, INFER_PATH, frame(message));
      assert.equal(answer.status, grpc.status.RESOURCE_EXHAUSTED, answer.message);
      assert.match(answer.message, /4 inputs.*--max-request-inputs/);
    });
  });

  describe('dataframe rows and columns', () => {
    const post = async (body: string | Uint8Array, type: string) => {
      const response = await fetch(`${server.url}/v2/models/tabular/infer`, { method: 'POST', body, headers: { 'content-type': type } });
      return { status: response.status, body: await response.json() as any };
    };
    const rows = (n: number) => Array.from({ length: n }, (_, r) => COLUMNS.map((_, c) => r + c / 10));
    const csv = (header: string[], data: number[][]) => [header.join(','), ...data.map((r) => r.join(','))].join('\n') + '\n';

    it('CSV: the row limit is served, one row more is refused; too many columns are refused', async () => {
      const ok = await post(csv(COLUMNS, rows(5)), 'text/csv');
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.OUTPUT.length, 5);
      refused(await post(csv(COLUMNS, rows(6)), 'text/csv'), '--max-dataframe-rows');
      const wide = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
      refused(await post(csv(wide, [wide.map(() => 1)]), 'text/csv'), '--max-dataframe-columns');
    });

    it('Arrow IPC: rows and columns from the metadata', async () => {
      const table = (n: number, names: string[]) => tableFromArrays(Object.fromEntries(names.map((c) => [c, Float32Array.from({ length: n }, () => 1)])));
      refused(await post(tableToIPC(table(6, COLUMNS), 'stream'), 'application/vnd.apache.arrow.stream'), '--max-dataframe-rows');
      refused(await post(tableToIPC(table(1, ['a', 'b', 'c', 'd', 'e', 'f', 'g']), 'file'), 'application/vnd.apache.arrow.file'), '--max-dataframe-columns');
    });

    it('JSON records and columns', async () => {
      const records = rows(6).map((r) => Object.fromEntries(COLUMNS.map((c, i) => [c, r[i]])));
      refused(await post(JSON.stringify(records), 'application/json'), '--max-dataframe-rows');
      const columns = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((c) => [c, [1]]));
      refused(await post(JSON.stringify(columns), 'application/json'), '--max-dataframe-columns');
    });
  });

  describe('multipart uploads', () => {
    const upload = async (form: FormData) => {
      const response = await fetch(`${server.url}/v2/models/identity_bytes/infer`, { method: 'POST', body: form });
      return { status: response.status, body: await response.json() as any };
    };

    it('one file is served', async () => {
      const form = new FormData();
      form.append('INPUT', new Blob([Buffer.from('hello')]), 'a.txt');
      const answer = await upload(form);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    });

    it('more parts than the limit', async () => {
      const form = new FormData();
      for (const name of ['INPUT', 'B', 'C']) form.append(name, 'x');
      refused(await upload(form), '--http-max-multipart-parts');
    });

    it('parts each under the body limit but over it together', async () => {
      const form = new FormData();
      form.append('INPUT', new Blob([Buffer.alloc(40 * 1024, 1)]), 'a.bin');
      form.append('OTHER', new Blob([Buffer.alloc(40 * 1024, 2)]), 'b.bin');
      const answer = await upload(form);
      refused(answer, '--http-body-limit');
      assert.match(answer.body.error, /form's parts/);
    });

    it('a text field longer than the parser keeps is refused, not cut short', async () => {
      const form = new FormData();
      form.append('INPUT', 'y'.repeat(BODY_LIMIT + 10));
      refused(await upload(form), '--http-body-limit');
    });
  });
});

/** The same limits set through `vireo serve`'s options and their environment variables (a real child process). */
describe('request limits as vireo serve options and environment variables', () => {
  let child: ChildServer;
  let cleanup: () => Promise<void>;
  const ENV = { VIREO_MAX_REQUEST_INPUTS: '2', VIREO_MAX_REQUEST_OUTPUTS: '1', VIREO_MAX_REQUEST_PARAMETERS: '1', VIREO_MAX_DATAFRAME_COLUMNS: '5', VIREO_HTTP_MAX_MULTIPART_PARTS: '1' };

  before(async () => {
    const repo = await makeRepository({
      simple: { versions: { 1: simpleModel() } },
      tabular: {
        config: { backend: 'onnx', max_batch_size: 64, input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [4], columns: COLUMNS }], output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [3] }] },
        versions: { 1: mlpModel([4, 8, 3], 5) },
      },
    });
    cleanup = repo.cleanup;
    Object.assign(process.env, ENV);
    try {
      child = await startChildServer(repo.root, ['--max-tensor-bytes', '64', '--max-tensor-bytes-total', '100', '--max-dataframe-rows', '2']);
    } finally {
      for (const name of Object.keys(ENV)) delete process.env[name];
    }
  });
  after(async () => {
    child.process.kill('SIGTERM');
    await child.exit;
    await cleanup();
  });

  const post = async (path: string, body: string | FormData, type?: string) => {
    const response = await fetch(`${child.url}${path}`, { method: 'POST', body, headers: type ? { 'content-type': type } : {} });
    return { status: response.status, body: await response.json() as any };
  };
  const int32 = (name: string, n: number) => ({ name, datatype: 'INT32', shape: [1, n], data: Array.from({ length: n }, (_, i) => i) });
  const refused = (answer: { status: number; body: any }, option: string) => {
    assert.equal(answer.status, 413, JSON.stringify(answer.body));
    assert.ok(answer.body.error.includes(option), answer.body.error);
  };

  it('each option and variable reaches its check', async () => {
    const infer = (body: unknown) => post('/v2/models/simple/infer', JSON.stringify(body), 'application/json');
    refused(await infer({ inputs: [int32('INPUT0', 17)] }), '--max-tensor-bytes');
    refused(await infer({ inputs: [int32('INPUT0', 16), int32('INPUT1', 16)] }), '--max-tensor-bytes-total');
    refused(await infer({ inputs: [int32('A', 1), int32('B', 1), int32('C', 1)] }), '--max-request-inputs');
    refused(await infer({ inputs: [int32('INPUT0', 16)], outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT1' }] }), '--max-request-outputs');
    refused(await infer({ parameters: { a: 1, b: 2 }, inputs: [int32('INPUT0', 16)] }), '--max-request-parameters');
    const csv = (header: string[], n: number) => [header.join(','), ...Array.from({ length: n }, () => header.map(() => 1).join(','))].join('\n');
    const two = await post('/v2/models/tabular/infer', csv(COLUMNS, 2), 'text/csv');
    assert.equal(two.status, 200, JSON.stringify(two.body));
    refused(await post('/v2/models/tabular/infer', csv(COLUMNS, 3), 'text/csv'), '--max-dataframe-rows');
    refused(await post('/v2/models/tabular/infer', csv([...COLUMNS, 'e', 'f'], 1), 'text/csv'), '--max-dataframe-columns');
    const form = new FormData();
    form.append('A', 'x');
    form.append('B', 'y');
    refused(await post('/v2/models/simple/infer', form), '--http-max-multipart-parts');
  });
});
