/**
 * List columns over REST: an input whose dims hold more than one value a row (and no `columns` list)
 * takes the column of its own name, a list per row, from JSON records and columns, a CSV cell holding a
 * JSON array, and Arrow IPC List / FixedSizeList columns. Real server, generated ONNX models; expected
 * outputs computed here from the inputs (float32 products, int32 sums), never by the code under test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Field, FixedSizeList, Float32, Float64, List, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { buildModel } from '../../tools/modelgen/onnx-graph.js';
import { identityModel, simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** OUTPUT = EMB × SCALE, FP32: EMB [batch, 4] (a list column), SCALE [batch, 1] (a scalar column). */
function scaleModel(): Uint8Array {
  return buildModel({
    name: 'scale',
    inputs: [{ name: 'EMB', type: 'FLOAT', dims: ['batch', 4] }, { name: 'SCALE', type: 'FLOAT', dims: ['batch', 1] }],
    outputs: [{ name: 'OUTPUT', type: 'FLOAT', dims: ['batch', 4] }],
    nodes: [{ op: 'Mul', inputs: ['EMB', 'SCALE'], outputs: ['OUTPUT'] }],
  });
}

const EMB = [[0.5, -1.25, 3, 7.75], [1.1, 2.2, 3.3, 4.4], [-0.1, 0, 1e-3, 123.456]];
const SCALE = [2, -0.5, 3.3];

/** float32 × float32 is exact in a double, so rounding it once gives the float32 product ONNX Runtime computes. */
const scaled = (emb: number[][], scale: number[]) => emb.map((row, r) => row.map((v) => Math.fround(Math.fround(v) * Math.fround(scale[r]!))));

describe('dataframe list columns over REST', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({
      scale: {
        config: { backend: 'onnx', max_batch_size: 8, input: [{ name: 'EMB', data_type: 'TYPE_FP32', dims: [4] }, { name: 'SCALE', data_type: 'TYPE_FP32', dims: [1] }], output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [4] }] },
        versions: { 1: scaleModel() },
      },
      simple: {
        config: { backend: 'onnx', max_batch_size: 8, input: [{ name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] }, { name: 'INPUT1', data_type: 'TYPE_INT32', dims: [16] }], output: [{ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] }, { name: 'OUTPUT1', data_type: 'TYPE_INT32', dims: [16] }] },
        versions: { 1: simpleModel() },
      },
      // A variable dim: the length comes from the rows.
      echo: {
        config: { backend: 'onnx', max_batch_size: 8, input: [{ name: 'INPUT', data_type: 'TYPE_FP64', dims: [-1] }], output: [{ name: 'OUTPUT', data_type: 'TYPE_FP64', dims: [-1] }] },
        versions: { 1: identityModel('DOUBLE') },
      },
      grid: {
        config: { backend: 'onnx', max_batch_size: 8, input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: [2, 3] }], output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [2, 3] }] },
        versions: { 1: identityModel('FLOAT', ['batch', 2, 3]) },
      },
    });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root);
  });

  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  const postBytes = async (model: string, body: string | Uint8Array, type: string) => {
    const response = await fetch(`${server.url}/v2/models/${model}/infer`, { method: 'POST', body, headers: { 'content-type': type } });
    return { status: response.status, body: await response.json() as any };
  };

  it('JSON records and JSON columns with a list column beside a scalar one', async () => {
    const records = EMB.map((emb, r) => ({ EMB: emb, SCALE: SCALE[r] }));
    const byRecords = await server.post('/v2/models/scale/infer', records);
    assert.equal(byRecords.status, 200, JSON.stringify(byRecords.body));
    assert.deepEqual(byRecords.body.OUTPUT, scaled(EMB, SCALE));
    const byColumns = await server.post('/v2/models/scale/infer', { SCALE, EMB });
    assert.equal(byColumns.status, 200, JSON.stringify(byColumns.body));
    assert.deepEqual(byColumns.body.OUTPUT, scaled(EMB, SCALE));
  });

  it('INT32 list columns: every value through, sums and differences as computed here', async () => {
    const a = [Array.from({ length: 16 }, (_, i) => i * 3 - 20), Array.from({ length: 16 }, (_, i) => 2 ** 30 - i)];
    const b = [Array.from({ length: 16 }, (_, i) => 7 - i), Array.from({ length: 16 }, (_, i) => -(2 ** 29) + i * i)];
    const answer = await server.post('/v2/models/simple/infer', a.map((row, r) => ({ INPUT0: row, INPUT1: b[r] })));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.OUTPUT0, a.map((row, r) => row.map((v, i) => v + b[r]![i]!)));
    assert.deepEqual(answer.body.OUTPUT1, a.map((row, r) => row.map((v, i) => v - b[r]![i]!)));
    const beyond = await server.post('/v2/models/simple/infer', [{ INPUT0: a[0], INPUT1: b[0] }, { INPUT0: a[1]!.map((v, i) => (i === 5 ? 2 ** 31 : v)), INPUT1: b[1] }]);
    assert.equal(beyond.status, 400);
    assert.match(beyond.body.error, /row 1, column "INPUT0": element 5 \(2147483648\) is not a valid INT32 value/);
  });

  it('a CSV cell holding a JSON array (as vireo batch writes list outputs in CSV)', async () => {
    const csv = ['EMB,SCALE', ...EMB.map((emb, r) => `"${JSON.stringify(emb)}",${SCALE[r]}`)].join('\n');
    const answer = await postBytes('scale', csv, 'text/csv');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.OUTPUT, scaled(EMB, SCALE));
    const broken = await postBytes('scale', 'EMB,SCALE\n"[1,2,3,",1\n', 'text/csv');
    assert.equal(broken.status, 400);
    assert.match(broken.body.error, /row 0, column "EMB": "\[1,2,3," is not a JSON list/);
  });

  it('Arrow IPC: List<Float32> over two record batches, FixedSizeList<Float32>, as stream and file', async () => {
    const scale = vectorFromArray(SCALE, new Float32());
    const list = new Table({ EMB: vectorFromArray(EMB.slice(0, 2), new List(new Field('item', new Float32(), true))), SCALE: vectorFromArray(SCALE.slice(0, 2), new Float32()) })
      .concat(new Table({ EMB: vectorFromArray(EMB.slice(2), new List(new Field('item', new Float32(), true))), SCALE: vectorFromArray(SCALE.slice(2), new Float32()) }));
    assert.equal(list.batches.length, 2);
    const fixed = new Table({ EMB: vectorFromArray(EMB, new FixedSizeList(4, new Field('item', new Float32(), false))), SCALE: scale });
    for (const [table, what] of [[list, 'List'], [fixed, 'FixedSizeList']] as const) {
      for (const [format, type] of [['stream', 'application/vnd.apache.arrow.stream'], ['file', 'application/vnd.apache.arrow.file']] as const) {
        const answer = await postBytes('scale', tableToIPC(table, format), type);
        assert.equal(answer.status, 200, `${what} ${format}: ${JSON.stringify(answer.body)}`);
        assert.deepEqual(answer.body.OUTPUT, scaled(EMB, SCALE), `${what} ${format}`);
      }
    }
  });

  it('Arrow IPC: a null list, a null element and a double beyond FP32 are refused by row, column and element', async () => {
    const send = (rows: (number | null)[][] | null[], element: Float32 | Float64 = new Float32()) => {
      const table = new Table({ EMB: vectorFromArray(rows, new List(new Field('item', element, true))), SCALE: vectorFromArray(SCALE.slice(0, rows.length), new Float32()) });
      return postBytes('scale', tableToIPC(table, 'stream'), 'application/vnd.apache.arrow.stream');
    };
    const nullList = await send([EMB[0]!, null] as never);
    assert.equal(nullList.status, 400);
    assert.match(nullList.body.error, /row 1, column "EMB": value is missing/);
    const nullElement = await send([EMB[0]!, [1, 2, null, 4]]);
    assert.equal(nullElement.status, 400);
    assert.match(nullElement.body.error, /row 1, column "EMB", element 2: value is missing/);
    const overflow = await send([EMB[0]!, [1, 2, 3, 3.5e38]], new Float64());
    assert.equal(overflow.status, 400);
    assert.match(overflow.body.error, /row 1, column "EMB", element 3: 3\.5e\+38 is beyond the range of FP32/);
    const short = await send([EMB[0]!, [1, 2, 3]]);
    assert.equal(short.status, 400);
    assert.match(short.body.error, /row 1, column "EMB": a list of 3 values, input "EMB" takes 4 \(dims \[4\]\)/);
  });

  it('refuses lists of the wrong length, JSON overflow and a scalar where a list belongs, with 400', async () => {
    const long = await server.post('/v2/models/scale/infer', [{ EMB: EMB[0], SCALE: 1 }, { EMB: [...EMB[1]!, 5], SCALE: 1 }]);
    assert.equal(long.status, 400);
    assert.match(long.body.error, /row 1, column "EMB": a list of 5 values, input "EMB" takes 4/);
    const overflow = await server.post('/v2/models/scale/infer', [{ EMB: [1, 2, 3, 1e39], SCALE: 1 }]);
    assert.equal(overflow.status, 400);
    assert.match(overflow.body.error, /row 0, column "EMB", element 3: 1e\+39 is beyond the range of FP32/);
    const scalar = await server.post('/v2/models/scale/infer', [{ EMB: 5, SCALE: 1 }]);
    assert.equal(scalar.status, 400);
    assert.match(scalar.body.error, /row 0, column "EMB": 5 is not a list/);
    const text = await server.post('/v2/models/scale/infer', [{ EMB: [1, 'x', 3, 4], SCALE: 1 }]);
    assert.equal(text.status, 400);
    assert.match(text.body.error, /row 0, column "EMB", element 1: "x" is not a number/);
  });

  it('a variable dim takes its size from the rows, which must agree', async () => {
    const rows = [[1.5, 2.25, -3, 1e300, 5], [0.1, 0.2, 0.3, 0.4, 0.5]];
    const answer = await server.post('/v2/models/echo/infer', { INPUT: rows });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.OUTPUT, rows);
    const ragged = await server.post('/v2/models/echo/infer', { INPUT: [rows[0], rows[1]!.slice(0, 4)] });
    assert.equal(ragged.status, 400);
    assert.match(ragged.body.error, /row 1, column "INPUT": a list of 4 values where row 0's has 5/);
  });

  it('dims [2,3]: flat lists of 6 or lists nested as the dims', async () => {
    const flat = [1, 2, 3, 4, 5, 6];
    const nested = [[-1, -2, -3], [-4, -5, -6]];
    const answer = await server.post('/v2/models/grid/infer', [{ INPUT: flat }, { INPUT: nested }]);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.OUTPUT, [[[1, 2, 3], [4, 5, 6]], nested]);
    const wrong = await server.post('/v2/models/grid/infer', [{ INPUT: [[1, 2], [3, 4], [5, 6]] }]);
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.error, /row 0, column "INPUT": nested lists do not follow the dims \[2,3\]/);
  });
});
