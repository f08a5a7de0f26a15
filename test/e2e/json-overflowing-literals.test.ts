/**
 * A JSON number literal beyond the double range (`1e400`, `-1e309`) is refused on every JSON wire path of
 * a real server — OIP REST (body, the binary extension's JSON header, parameters, JSON records and
 * columns), V1 REST, the generate extension, /v1/batches lines — with a 400 naming the input and element, as a finite overflow (`1e39`
 * for FP32) is; where tensors are not JSON text (binary tensor data, a handler model's BLS call), an
 * infinity still passes. Bodies are written as text here: JSON.stringify cannot write such a literal.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { identityModel } from '../../tools/modelgen/models.js';
import { waitFor } from '../helpers/lifecycle.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** The largest double: FP64 holds it, FP32 does not. */
const MAX_DOUBLE = '1.7976931348623157e308';
/** The refusal of an infinity JSON.parse made of a literal, for `input "INPUT"` at `element`. */
const refusal = (element: number, datatype: string, negative = false) =>
  new RegExp(`^input "INPUT": element ${element} \\(a number literal beyond ${negative ? '-' : ''}1\\.7976931348623157e308, read as ${negative ? '-' : ''}Infinity\\) is beyond the range of ${datatype}$`);

/** A handler model that calls id_fp64 (BLS) with ±Infinity and answers how many infinities came back. */
const blsInfinity = `
let ctx;
export function initialize(context) { ctx = context; }
export async function execute(requests) {
  return Promise.all(requests.map(async () => {
    const out = await ctx.infer('id_fp64', { INPUT: { datatype: 'FP64', shape: [1, 3], data: [1, Infinity, -Infinity] } }, { outputs: ['OUTPUT'] });
    return { outputs: { INFINITIES: { data: Int32Array.of(Array.from(out.OUTPUT.data).filter((v) => !Number.isFinite(v)).length) } } };
  }));
}
`;

describe('a JSON number literal beyond the double range', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let batchDir: string;

  before(async () => {
    const repo = await makeRepository({
      id_fp64: { versions: { 1: identityModel('DOUBLE') } },
      id_fp32: { versions: { 1: identityModel('FLOAT') } },
      id_fp16: { versions: { 1: identityModel('FLOAT16') } },
      id_int32: { versions: { 1: identityModel('INT32') } },
      id_int64: { versions: { 1: identityModel('INT64') } },
      bls_infinity: {
        config: { backend: 'typescript', max_batch_size: 0, input: [{ name: 'GO', data_type: 'TYPE_INT32', dims: [1] }], output: [{ name: 'INFINITIES', data_type: 'TYPE_INT32', dims: [1] }] },
        versions: { 1: blsInfinity },
        filename: 'model.js',
      },
    });
    cleanup = repo.cleanup;
    batchDir = await mkdtemp(join(tmpdir(), 'vireo-overflow-batches-'));
    server = await startTestServer(repo.root, { grpcPort: -1, batchDir });
  });
  after(async () => {
    await server.close();
    await cleanup();
    await rm(batchDir, { recursive: true, force: true });
  });

  const infer = (model: string, datatype: string, data: string, parameters = '{}') =>
    server.post(`/v2/models/${model}/infer`, `{"inputs": [{"name": "INPUT", "datatype": "${datatype}", "shape": [1, 2], "data": ${data}}], "parameters": ${parameters}}`);

  it('OIP REST: 400 naming the element for FP64, FP32 and FP16, flat or nested; the largest double is FP64\'s, not FP32\'s', async () => {
    for (const [model, datatype] of [['id_fp64', 'FP64'], ['id_fp32', 'FP32'], ['id_fp16', 'FP16']]) {
      for (const [data, element, negative] of [['[1, 1e400]', 1, false], ['[-1e309, 1]', 0, true], ['[[1, 1e999]]', 1, false]] as const) {
        const answer = await infer(model!, datatype!, data);
        assert.equal(answer.status, 400, `${datatype} ${data}: ${JSON.stringify(answer.body)}`);
        assert.match(answer.body.error, refusal(element, datatype!, negative), `${datatype} ${data}`);
      }
    }
    const fp64 = await infer('id_fp64', 'FP64', `[-${MAX_DOUBLE}, ${MAX_DOUBLE}]`);
    assert.equal(fp64.status, 200, JSON.stringify(fp64.body));
    assert.deepEqual(fp64.body.outputs[0].data, [-Number.MAX_VALUE, Number.MAX_VALUE]);
    const fp32 = await infer('id_fp32', 'FP32', `[0, ${MAX_DOUBLE}]`);
    assert.equal(fp32.status, 400);
    assert.match(fp32.body.error, /input "INPUT": element 1 \(1\.7976931348623157e\+308\) is beyond the range of FP32/);
  });

  it('OIP REST: integer datatypes refuse it as not an integer, naming the element', async () => {
    for (const [model, datatype] of [['id_int32', 'INT32'], ['id_int64', 'INT64']]) {
      const answer = await infer(model!, datatype!, '[7, 1e400]');
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.match(answer.body.error, new RegExp(`input "INPUT": element 1 \\(Infinity\\) is not a valid ${datatype} value`));
    }
  });

  it('OIP REST: a parameter with such a literal is 400 naming it, at the request and at an input', async () => {
    const request = await infer('id_fp64', 'FP64', '[1, 2]', '{"scale": 1e400}');
    assert.equal(request.status, 400, JSON.stringify(request.body));
    assert.match(request.body.error, /request: parameter "scale" is a number literal beyond the range of a double/);
    const input = await server.post('/v2/models/id_fp64/infer', '{"inputs": [{"name": "INPUT", "datatype": "FP64", "shape": [1, 1], "data": [1], "parameters": {"w": -1e309}}]}');
    assert.equal(input.status, 400, JSON.stringify(input.body));
    assert.match(input.body.error, /input "INPUT": parameter "w" is a number literal beyond the range of a double/);
    assert.equal((await infer('id_fp64', 'FP64', '[1, 2]', `{"scale": 0.5}`)).status, 200);
  });

  it('the binary extension: a JSON input in the header is refused; an infinity in binary data passes', async () => {
    const send = (header: string, binary: Uint8Array) => fetch(`${server.url}/v2/models/id_fp64/infer`, {
      method: 'POST',
      headers: { 'Inference-Header-Content-Length': String(Buffer.byteLength(header)) },
      body: Buffer.concat([Buffer.from(header), binary]),
    });
    const json = await send('{"inputs": [{"name": "INPUT", "datatype": "FP64", "shape": [1, 2], "data": [1, 1e400]}]}', new Uint8Array(0));
    assert.equal(json.status, 400);
    assert.match(((await json.json()) as { error: string }).error, refusal(1, 'FP64'));
    const raw = new Uint8Array(Float64Array.of(1, Infinity, -Infinity).buffer);
    const binary = await send('{"inputs": [{"name": "INPUT", "datatype": "FP64", "shape": [1, 3], "parameters": {"binary_data_size": 24}}], "outputs": [{"name": "OUTPUT", "parameters": {"binary_data": true}}]}', raw);
    assert.equal(binary.status, 200);
    const bytes = Buffer.from(await binary.arrayBuffer());
    const length = Number(binary.headers.get('inference-header-content-length'));
    assert.deepEqual(Array.from(new Float64Array(bytes.buffer.slice(bytes.byteOffset + length, bytes.byteOffset + length + 24))), [1, Infinity, -Infinity]);
  });

  it('V1 REST (row and columnar) and the generate extension refuse it, naming the element', async () => {
    for (const body of ['{"instances": [[1, 1e400]]}', '{"inputs": [[1, 1e400]]}']) {
      const answer = await server.post('/v1/models/id_fp64:predict', body);
      assert.equal(answer.status, 400, `${body}: ${JSON.stringify(answer.body)}`);
      assert.match(answer.body.error, refusal(1, 'FP64'), body);
    }
    assert.equal((await server.post('/v1/models/id_fp64:predict', `{"instances": [[1, ${MAX_DOUBLE}]]}`)).status, 200);
    const generate = await server.post('/v2/models/id_fp32/generate', '{"INPUT": [1, -1e400]}');
    assert.equal(generate.status, 400, JSON.stringify(generate.body));
    assert.match(generate.body.error, refusal(1, 'FP32', true));
    const parameter = await server.post('/v2/models/id_fp32/generate', '{"INPUT": [1, 2], "temperature": 1e400}');
    assert.equal(parameter.status, 400, JSON.stringify(parameter.body));
    assert.match(parameter.body.error, /parameter "temperature" is a number literal beyond the range of a double/);
    assert.equal((await server.post('/v2/models/id_fp32/generate', '{"INPUT": [1, 2]}')).status, 200);
  });

  it('JSON records and columns (dataframe bodies): 400 naming the row, column and list element; the largest double passes for FP64', async () => {
    for (const body of ['[{"INPUT": [1, 2]}, {"INPUT": [3, 1e400]}]', '{"INPUT": [[1, 2], [3, -1e309]]}']) {
      const answer = await server.post('/v2/models/id_fp64/infer', body);
      assert.equal(answer.status, 400, `${body}: ${JSON.stringify(answer.body)}`);
      assert.match(answer.body.error, /row 1, column "INPUT", element 1: a number literal beyond -?1\.7976931348623157e308 \(read as -?Infinity\)/, body);
    }
    const largest = await server.post('/v2/models/id_fp64/infer', `[{"INPUT": [1, ${MAX_DOUBLE}]}]`);
    assert.equal(largest.status, 200, JSON.stringify(largest.body));
  });

  it('a handler model\'s BLS call with ±Infinity (JS values, not JSON text) still runs', async () => {
    const answer = await server.post('/v2/models/bls_infinity/infer', { inputs: [{ name: 'GO', datatype: 'INT32', shape: [1], data: [1] }] });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.outputs[0].data, [2]);
  });

  it('/v1/batches: a line with such a literal fails alone, with the REST route\'s reason', async () => {
    const client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
    const line = (id: string, data: string) => `{"custom_id": "${id}", "method": "POST", "url": "/v2/models/id_fp64/infer", "body": {"inputs": [{"name": "INPUT", "datatype": "FP64", "shape": [1, 2], "data": ${data}}]}}`;
    const text = [line('ok-1', '[1, 2]'), line('huge', '[3, 1e400]'), line('max', `[4, ${MAX_DOUBLE}]`), line('tiny', '[-1e309, 5]'), line('ok-2', '[6, 7]')].join('\n');
    const file = await client.files.create({ file: await toFile(Buffer.from(`${text}\n`), 'overflow.jsonl'), purpose: 'batch' });
    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v2/models/id_fp64/infer' as any, completion_window: '24h' });
    const batch = await waitFor(`batch ${created.id}`, async () => {
      const b = await client.batches.retrieve(created.id);
      return ['completed', 'failed', 'expired', 'cancelled'].includes(b.status) ? b : undefined;
    }, 120_000);
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    assert.deepEqual(batch.request_counts, { total: 5, completed: 3, failed: 2 });
    const lines = async (id: string) => (await (await client.files.content(id)).text()).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
    const outputs = await lines(batch.output_file_id!);
    assert.deepEqual(Object.fromEntries(outputs.map((o) => [o.custom_id, o.response.body.outputs[0].data])), { 'ok-1': [1, 2], max: [4, Number.MAX_VALUE], 'ok-2': [6, 7] });
    const errors = await lines(batch.error_file_id!);
    assert.deepEqual(errors.map((e) => [e.custom_id, e.response.status_code]), [['huge', 400], ['tiny', 400]]);
    assert.match(errors[0].response.body.error, refusal(1, 'FP64'));
    assert.match(errors[1].response.body.error, refusal(0, 'FP64', true));
  });
});
