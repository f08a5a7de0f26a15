/**
 * Parquet columns decoded straight into an input's row-major layout (ParquetReadOptions.rowMajor,
 * parquet-flat-columns.ts): the tensors the batch source's tables make (tableToInputs, as `vireo batch`
 * makes them) hold exactly the values written — rounded once to float32 for an FP32 input, computed here
 * with Math.fround from the written numbers — with and without the row-major specs. Files from
 * hyparquet-writer (v2 pages: PLAIN, dictionary, BYTE_STREAM_SPLIT, DELTA_BINARY_PACKED, several pages
 * per chunk) and parquet-wasm (v1 pages with dictionaries), several row groups, parts and batches smaller
 * than a row group, an id column carried, a column outside every spec, and a spec with a null in one row
 * group, which takes the column-by-column path in that row group only.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Field, RecordBatch, Schema, Table as ArrowTable, tableFromArrays, tableToIPC } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm/node';
import { columnarSource } from '../../../src/batch/columnar-sources.js';
import type { PartInput } from '../../../src/batch/input-source.js';
import { openParquet } from '../../../src/codecs/columnar-files.js';
import { dataframeColumns, tableToInputs, type DataframeInput, type Table } from '../../../src/codecs/dataframe-codec.js';
import type { RowMajorSpec } from '../../../src/codecs/row-major-layout.js';
import type { Tensor } from '../../../src/core/tensor.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-parquet-row-major-'));
after(() => rm(dir, { recursive: true, force: true }));

const ROWS = 230;
const GROUP_ROWS = 50; // row groups of 50 rows, the last of 30
const NULL_ROW = 60; // in row group 1
const range = (f: (r: number) => number) => Array.from({ length: ROWS }, (_, r) => f(r));
const written = {
  f1: range((r) => r / 7 - 3.3),
  f2: range((r) => (r % 4) * 0.1), // few values: a dictionary
  f3: range((r) => Math.sin(r) * 1e3),
  d1: range((r) => (r === 3 ? -0 : r / 3 + 1e-9)), // needs rounding to float32; -0 kept
  d2: range((r) => Math.cos(r) * 1e-3),
  d3: range((r) => (r % 3) - 1 + 1 / 3),
  d4: range((r) => r * 1.000000119),
  i1: range((r) => 16_777_217 + r * 3), // beyond 2^24: float32 rounds some
  i2: range((r) => r * 1000 - 50_000),
  other: range((r) => 1 / (r + 1)),
};
const n1 = range((r) => r * 0.25 - 7).map((v, r) => (r === NULL_ROW ? null : v));
const keys = range((r) => r).map((r) => `key-${r}`);

const INPUTS: DataframeInput[] = [
  { name: 'A', data_type: 'FP32', dims: [5], columns: ['f3', 'd1', 'i1', 'f1', 'f2'] }, // not the file's order
  { name: 'B', data_type: 'FP64', dims: [3], columns: ['d3', 'i2', 'd2'] },
  { name: 'C', data_type: 'FP32', dims: [2], columns: ['d4', 'n1'] }, // n1 has a null in row group 1
  { name: 'other', data_type: 'FP64', dims: [1] }, // a column of its own
];
const SPECS: RowMajorSpec[] = INPUTS.filter((i) => i.columns).map((i) => ({ names: i.columns!, float32: i.data_type === 'FP32' }));
const COLUMNS = dataframeColumns(INPUTS) as Map<string, string[]>;

/** Each input's expected row, from the written numbers: FLOAT columns hold them as float32, and an FP32 input rounds once. */
function expectedRow(input: DataframeInput, r: number): number[] {
  const float = new Set(['f1', 'f2', 'f3']);
  return (input.columns ?? [input.name]).map((name) => {
    const value = name === 'n1' ? n1[r]! : written[name as keyof typeof written][r]!;
    const stored = float.has(name) ? Math.fround(value) : value;
    return input.data_type === 'FP32' ? Math.fround(stored) : stored;
  });
}

interface Run {
  /** Per row: each input's tensor row, or the error its batch of one gave. */
  rows: (number[][] | string)[];
  /** Per row group read: which columns came row-major. */
  layouts: Map<number, string[]>;
  /** Per row group read: the buffers of its row-major arrays. */
  buffers: Map<number, ArrayBufferLike[]>;
  ids: string[];
}

/**
 * The source's parts of `partRows`, each asked for its requests in batches of `batch` rows (a batch
 * with a bad row again row by row, as runRows isolates it), every request made into tensors. A part
 * runs once `lag` parts after it have been read (runParts: one), and is released right after.
 */
async function run(path: string, specs: RowMajorSpec[] | undefined, partRows: number, batch: number, lag = 1): Promise<Run> {
  const out: Run = { rows: [], layouts: new Map(), buffers: new Map(), ids: [] };
  let last: Table | undefined;
  const toRequest = (table: Table) => {
    last = table;
    return { model: 'm', inputs: tableToInputs(table, INPUTS, COLUMNS, true, false) };
  };
  const runPart = async (part: PartInput) => {
    out.ids.push(...part.carried!.get('key')!.map(String));
    const count = part.rows.ids.length;
    for (let start = 0; start < count; start += batch) {
      const end = Math.min(count, start + batch);
      try {
        const spans = await part.rows.requests(start, end);
        for (const span of spans) out.rows.push(...rowsOf(span.request.inputs as Tensor[], span.items.length));
      } catch {
        for (let r = start; r < end; r++) {
          try {
            const [span] = await part.rows.requests(r, r + 1);
            out.rows.push(...rowsOf(span!.request.inputs as Tensor[], 1));
          } catch (error) {
            out.rows.push((error as Error).message);
          }
        }
      }
    }
    // The last request made was of this part's own rows.
    out.layouts.set(part.range.block, (last!.rowMajor ?? []).map((b) => b.names.join('+')));
    out.buffers.set(part.range.block, (last!.rowMajor ?? []).map((b) => b.data.buffer));
    part.release?.();
  };
  const source = columnarSource(path, 'parquet', 0, toRequest, 'key', { rowMajor: specs });
  const read: PartInput[] = [];
  for await (const part of source.parts({ owns: () => true, committed: () => false, partRows })) {
    read.push(part);
    if (read.length > lag) await runPart(read.shift()!);
  }
  for (const part of read) await runPart(part);
  return out;
}

function rowsOf(tensors: Tensor[], rows: number): number[][][] {
  return Array.from({ length: rows }, (_, r) => tensors.map((t) => {
    const width = t.shape.slice(1).reduce((a, b) => a * b, 1);
    assert.equal(t.datatype, INPUTS.find((i) => i.name === t.name)!.data_type);
    return Array.from((t.data as Float32Array | Float64Array).subarray(r * width, (r + 1) * width));
  }));
}

function assertExpected(got: Run, label: string): void {
  assert.deepEqual(got.ids, keys, `${label}: ids carried`);
  assert.equal(got.rows.length, ROWS, label);
  got.rows.forEach((row, r) => {
    if (r === NULL_ROW) return assert.equal(row, 'column "n1": value is missing', `${label}: the null's row fails alone`);
    assert.ok(Array.isArray(row), `${label}, row ${r}: ${String(row)}`);
    INPUTS.forEach((input, k) => expectedRow(input, r).forEach((want, j) => {
      assert.ok(Object.is(row[k]![j], want), `${label}, row ${r}, input ${input.name}[${j}]: ${row[k]![j]} vs ${want}`);
    }));
  });
}

/** The same file as hyparquet-writer and parquet-wasm write it. */
async function files(): Promise<[string, string][]> {
  const hyparquet = join(dir, 'hyparquet.parquet');
  await writeFile(hyparquet, new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: 'key', data: keys, type: 'STRING' },
      { name: 'f1', data: Float32Array.from(written.f1), type: 'FLOAT' },
      { name: 'd1', data: written.d1, type: 'DOUBLE', nullable: false },
      { name: 'f2', data: written.f2, type: 'FLOAT' },
      { name: 'n1', data: n1, type: 'DOUBLE' },
      { name: 'f3', data: written.f3, type: 'FLOAT', encoding: 'BYTE_STREAM_SPLIT' },
      { name: 'other', data: written.other, type: 'DOUBLE' },
      { name: 'd2', data: written.d2, type: 'DOUBLE', encoding: 'BYTE_STREAM_SPLIT' },
      { name: 'i1', data: Int32Array.from(written.i1), type: 'INT32' },
      { name: 'd3', data: written.d3, type: 'DOUBLE' },
      { name: 'i2', data: Int32Array.from(written.i2), type: 'INT32', encoding: 'DELTA_BINARY_PACKED' },
      { name: 'd4', data: written.d4, type: 'DOUBLE' },
    ],
    rowGroupSize: GROUP_ROWS,
    pageSize: 96, // a dozen values a page: several pages per chunk
  })));
  const typed = tableFromArrays({
    key: keys, f1: Float32Array.from(written.f1), f2: Float32Array.from(written.f2), f3: Float32Array.from(written.f3),
    d1: Float64Array.from(written.d1), d2: Float64Array.from(written.d2), d3: Float64Array.from(written.d3), d4: Float64Array.from(written.d4),
    i1: Int32Array.from(written.i1), i2: Int32Array.from(written.i2), other: Float64Array.from(written.other), n1,
  } as unknown as Record<string, Float64Array>);
  const schema = new Schema(typed.schema.fields.map((f) => new Field(f.name, f.type, true)));
  const arrow = new ArrowTable(schema, typed.batches.map((b) => new RecordBatch(schema, b.data)));
  const wasm = join(dir, 'wasm.parquet');
  const properties = new WriterPropertiesBuilder().setWriterVersion(WriterVersion.V1).setMaxRowGroupSize(GROUP_ROWS).setDataPageSizeLimit(64).setWriteBatchSize(8).setDictionaryPageSizeLimit(64).build();
  await writeFile(wasm, writeParquet(WasmTable.fromIPCStream(tableToIPC(arrow, 'stream')), properties));
  return [['hyparquet-writer', hyparquet], ['parquet-wasm v1', wasm]];
}

describe('Parquet row groups decoded into the inputs\' row-major layout', () => {
  it('tensors hold the written values, with and without specs, over parts and batches smaller than a row group', async () => {
    for (const [writer, path] of await files()) {
      for (const [partRows, batch, lag] of [[17, 5, 0], [17, 5, 1], [17, 5, 4], [50, 50, 1], [1000, 64, 1]] as const) {
        const label = `${writer}, parts of ${partRows}, batches of ${batch}, parts run ${lag} behind`;
        const fast = await run(path, SPECS, partRows, batch, lag);
        assertExpected(fast, `${label}, row-major`);
        // A, B always row-major; C only in the row groups without the null; `other` never.
        const all = ['f3+d1+i1+f1+f2', 'd3+i2+d2', 'd4+n1'];
        assert.deepEqual([...fast.layouts], [[0, all], [1, all.slice(0, 2)], [2, all], [3, all], [4, all]], label);
        // Row groups 0–3 are the same size: a later one reads into the arrays of one whose parts have all run
        // (not so soon when parts run far behind the reading: then the pool has none to give yet).
        const seen = [0, 1].flatMap((g) => fast.buffers.get(g)!);
        if (lag <= 1) assert.ok([2, 3].some((g) => fast.buffers.get(g)!.some((b) => seen.includes(b))), `${label}: arrays reused`);
        const plain = await run(path, undefined, partRows, batch, lag);
        assert.deepEqual([...plain.layouts].map(([, l]) => l), [[], [], [], [], []], `${label}: no spec, no block`);
        assertExpected(plain, `${label}, column by column`);
        fast.rows.forEach((row, r) => assert.deepEqual(row, plain.rows[r], `${label}, row ${r}: the same either way`));
      }
    }
  });

  it('a spec is read row-major only when its columns are in the file, take the fast path, and are in no earlier spec', async () => {
    const path = join(dir, 'specs.parquet');
    await writeFile(path, new Uint8Array(parquetWriteBuffer({
      columnData: [
        { name: 'a', data: Float32Array.from([1.5, 2.5, 3.5]), type: 'FLOAT' },
        { name: 'b', data: [0.1, 0.2, 0.3], type: 'DOUBLE' },
        { name: 'c', data: [7, 8, 9], type: 'DOUBLE' },
        { name: 's', data: ['x', 'y', 'z'], type: 'STRING' },
        { name: 'l', data: [1n, 2n, 3n], type: 'INT64' },
      ],
    })));
    const read = async (rowMajor: RowMajorSpec[]) => {
      const chunk = await (await openParquet(path, { rowMajor })).read(0);
      return { own: [...chunk.columns.keys()], rowMajor: (chunk.rowMajor ?? []).map((b) => [b.names.join('+'), b.data instanceof Float32Array ? 'f32' : 'f64', Array.from(b.data)]) };
    };
    assert.deepEqual(await read([{ names: ['b', 'a'], float32: false }, { names: ['a', 'c'], float32: true }]), {
      own: ['c', 's', 'l'], rowMajor: [['b+a', 'f64', [0.1, 1.5, 0.2, 2.5, 0.3, 3.5]]],
    });
    assert.deepEqual(await read([{ names: ['c', 'b'], float32: true }]), {
      own: ['a', 's', 'l'], rowMajor: [['c+b', 'f32', [7, 0.1, 8, 0.2, 9, 0.3].map(Math.fround)]],
    });
    for (const names of [['a', 'missing'], ['a', 's'], ['a', 'l'], ['a', 'a'], []]) {
      assert.deepEqual((await read([{ names, float32: true }])).own, ['a', 'b', 'c', 's', 'l'], `spec ${names.join('+')}: columns as they are`);
    }
  });

  it('a row group where a spec\'s column holds a null: that spec\'s columns come exactly as without specs', async () => {
    // g (FLOAT) is decoded before h, whose null in row group 1 ends the block there: g must come as the
    // fast path gives it without specs (a Float32Array of its own), not rounded from the block, not through hyparquet.
    const g = [0.1, 0.2, 0.3, 0.4];
    const h = [1, 2, null, 4];
    const path = join(dir, 'null-in-spec.parquet');
    await writeFile(path, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'g', data: g, type: 'FLOAT' }, { name: 'h', data: h, type: 'DOUBLE' }], rowGroupSize: 2 })));
    const withSpec = await openParquet(path, { rowMajor: [{ names: ['g', 'h'], float32: true }] });
    const without = await openParquet(path);
    const group0 = await withSpec.read(0);
    assert.deepEqual([[...group0.columns.keys()], group0.rowMajor!.map((b) => Array.from(b.data))], [[], [[0.1, 1, 0.2, 2].map(Math.fround)]]);
    const [got, want] = [await withSpec.read(1), await without.read(1)];
    assert.equal(got.rowMajor, undefined);
    assert.ok(got.columns.get('g') instanceof Float32Array, 'g from the fast path, in an array of its own');
    assert.deepEqual(Array.from(got.columns.get('g')!), g.slice(2).map(Math.fround));
    assert.deepEqual(got.columns.get('h'), [null, 4]);
    assert.deepEqual(got, want);
  });

  it('the id column is never part of a block: its spec is read column by column', async () => {
    const path = join(dir, 'id-in-spec.parquet');
    await writeFile(path, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'k', data: [1, 2], type: 'DOUBLE' }, { name: 'x', data: [3, 4], type: 'DOUBLE' }] })));
    const tables: Table[] = [];
    const source = columnarSource(path, 'parquet', 0, (table) => (tables.push(table), { model: 'm', inputs: [] }), 'k', { rowMajor: [{ names: ['k', 'x'], float32: false }] });
    for await (const part of source.parts({ owns: () => true, committed: () => false, partRows: 10 })) {
      assert.deepEqual(part.carried!.get('k'), [1, 2]);
      await part.rows.requests(0, 2);
    }
    assert.deepEqual(tables.map((t) => [[...t.columns.keys()], t.rowMajor ?? []]), [[['x'], []], [['x'], []]]);
  });
});
