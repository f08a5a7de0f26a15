/**
 * Dataframes posted to the infer URL of the tabular example (a generated MLP): CSV, Arrow IPC
 * (stream and file) and JSON records/columns give the outputs a JS reference computes, and bad
 * tables get a 400 that names the problem.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { mlpReference } from '../../tools/modelgen/models.js';
import { TABULAR_SEED, TABULAR_SIZES } from '../../tools/prepare-examples.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const repository = join(import.meta.dirname, '..', '..', 'examples', 'models');
const COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] as const;
const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.2, 2.9, 4.3, 1.3],
  [7.7, 3.0, 6.1, 2.3],
];

function expected(rows: number[][]): number[][] {
  const flat = mlpReference(TABULAR_SIZES, TABULAR_SEED, Float32Array.from(rows.flat()), rows.length);
  return rows.map((_, r) => Array.from(flat.subarray(r * 3, r * 3 + 3)));
}

function assertScores(actual: number[][], rows: number[][]): void {
  const want = expected(rows);
  assert.equal(actual.length, want.length);
  actual.forEach((row, r) => row.forEach((v, c) => assert.ok(Math.abs(v - want[r]![c]!) < 1e-5, `row ${r} class ${c}: ${v} vs ${want[r]![c]}`)));
}

const csv = (header: readonly string[], rows: (number | string)[][]) => [header.join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n';

describe('dataframes (examples/models/tabular)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer(repository);
  });

  after(async () => {
    await server.close();
  });

  const post = async (body: string | Uint8Array, type: string) => {
    const response = await fetch(`${server.url}/v2/models/tabular/infer`, { method: 'POST', body, headers: { 'content-type': type } });
    return { status: response.status, body: await response.json() as any };
  };

  it('takes CSV, one row per batch item', async () => {
    const answer = await post(csv(COLUMNS, ROWS), 'text/csv');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assertScores(answer.body.OUTPUT, ROWS);
  });

  it('takes columns in any order, matched by name', async () => {
    const order = [3, 1, 0, 2];
    const answer = await post(csv(order.map((i) => COLUMNS[i]!), ROWS.map((r) => order.map((i) => r[i]!))), 'text/csv; charset=utf-8');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assertScores(answer.body.OUTPUT, ROWS);
  });

  it('takes Arrow IPC as a stream and as a file', async () => {
    const table = tableFromArrays(Object.fromEntries(COLUMNS.map((c, j) => [c, Float64Array.from(ROWS.map((r) => r[j]!))])));
    for (const [format, type] of [['stream', 'application/vnd.apache.arrow.stream'], ['file', 'application/vnd.apache.arrow.file']] as const) {
      const answer = await post(tableToIPC(table, format), type);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assertScores(answer.body.OUTPUT, ROWS);
    }
  });

  it('takes JSON records and JSON columns', async () => {
    const records = ROWS.map((r) => Object.fromEntries(COLUMNS.map((c, j) => [c, r[j]])));
    const byRecords = await server.post('/v2/models/tabular/infer', records);
    assert.equal(byRecords.status, 200, JSON.stringify(byRecords.body));
    assertScores(byRecords.body.OUTPUT, ROWS);
    const columns = Object.fromEntries(COLUMNS.map((c, j) => [c, ROWS.map((r) => r[j])]));
    const byColumns = await server.post('/v2/models/tabular/infer', columns);
    assert.equal(byColumns.status, 200, JSON.stringify(byColumns.body));
    assertScores(byColumns.body.OUTPUT, ROWS);
  });

  it('refuses a cell beyond the range of the FP32 input with 400, from CSV, JSON records and Arrow doubles alike', async () => {
    const csvAnswer = await post(csv(COLUMNS, [ROWS[0]!, [6.2, 1e39, 4.3, 1.3]]), 'text/csv');
    assert.equal(csvAnswer.status, 400, JSON.stringify(csvAnswer.body));
    assert.match(csvAnswer.body.error, /beyond the range of FP32/);
    const records = [ROWS[0]!, [6.2, 2.9, -1e39, 1.3]].map((r) => Object.fromEntries(COLUMNS.map((c, j) => [c, r[j]])));
    const recordsAnswer = await server.post('/v2/models/tabular/infer', records);
    assert.equal(recordsAnswer.status, 400, JSON.stringify(recordsAnswer.body));
    assert.match(recordsAnswer.body.error, /beyond the range of FP32/);
    const rows = [ROWS[0]!, [6.2, 2.9, 4.3, 3.5e38]];
    const table = tableFromArrays(Object.fromEntries(COLUMNS.map((c, j) => [c, Float64Array.from(rows.map((r) => r[j]!))])));
    const arrowAnswer = await post(tableToIPC(table, 'stream'), 'application/vnd.apache.arrow.stream');
    assert.equal(arrowAnswer.status, 400, JSON.stringify(arrowAnswer.body));
    assert.match(arrowAnswer.body.error, /3\.5e\+38\) is beyond the range of FP32/);
  });

  it('refuses missing and extra columns, bad cells, ragged rows and invalid UTF-8 with 400', async () => {
    const missing = await post(csv(COLUMNS.slice(0, 3), ROWS.map((r) => r.slice(0, 3))), 'text/csv');
    assert.equal(missing.status, 400);
    assert.match(missing.body.error, /missing column "petal_width"/);
    const extra = await post(csv([...COLUMNS, 'species'], ROWS.map((r) => [...r, 'x'])), 'text/csv');
    assert.equal(extra.status, 400);
    assert.match(extra.body.error, /unknown column "species"/);
    const cellBad = await post(csv(COLUMNS, [ROWS[0]!, [6.2, 'abc', 4.3, 1.3]]), 'text/csv');
    assert.equal(cellBad.status, 400);
    assert.match(cellBad.body.error, /row 1, column "sepal_width": "abc" is not a number/);
    const ragged = await post(`${COLUMNS.join(',')}\n1,2,3\n`, 'text/csv');
    assert.equal(ragged.status, 400);
    assert.match(ragged.body.error, /CSV body cannot be parsed/);
    const latin1 = Buffer.concat([Buffer.from(`${COLUMNS.join(',')}\n1,2,3,`), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]);
    const notUtf8 = await post(latin1, 'text/csv');
    assert.equal(notUtf8.status, 400);
    assert.match(notUtf8.body.error, /not valid UTF-8/);
    const arrowBad = await post(Buffer.from('not arrow at all'), 'application/vnd.apache.arrow.stream');
    assert.equal(arrowBad.status, 400);
    // One flipped byte of a valid stream made its record batch claim 1.8 billion buffers: the server
    // built objects until it ran out of heap. Now a 400 at once, and the server goes on.
    const lying = Buffer.from(tableToIPC(tableFromArrays(Object.fromEntries(COLUMNS.map((c, j) => [c, Float32Array.of(j + 1)]))), 'stream'));
    lying[0x187] = 0x6d;
    const refused = await post(lying, 'application/vnd.apache.arrow.stream');
    assert.equal(refused.status, 400);
    assert.match(refused.body.error, /not a valid Arrow IPC/);
    // Cells that JavaScript's Number reads but that are not decimal numbers: a quoted blank (0), hex, binary.
    for (const cell of ['" "', '0x10', '0b101', '1_000']) {
      const odd = await post(`${COLUMNS.join(',')}
${cell},2,3,4
`, 'text/csv');
      assert.equal(odd.status, 400, cell);
      assert.match(odd.body.error, /row 0, column "sepal_length": .* is not a number|value is empty/, cell);
    }
    assert.equal((await post(csv(COLUMNS, ROWS), 'text/csv')).status, 200);
  });

  it('refuses more rows than max_batch_size and a scalar cell where the input takes a list', async () => {
    const many = Array.from({ length: 65 }, () => ROWS[0]!);
    const tooMany = await post(csv(COLUMNS, many), 'text/csv');
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.error, /inference request batch-size must be <= 64 for/);
    const simple = await fetch(`${server.url}/v2/models/simple/infer`, { method: 'POST', body: 'INPUT0,INPUT1\n1,2\n', headers: { 'content-type': 'text/csv' } });
    assert.equal(simple.status, 400);
    // An input of dims [16] without a `columns` list takes a list column of its own name (dataframe-list-columns.test.ts).
    assert.match((await simple.json() as { error: string }).error, /row 0, column "INPUT0": "1" is not a list .*dims \[16\]/);
  });
});
