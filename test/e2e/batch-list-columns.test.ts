/**
 * `vireo batch` over files whose embedding column holds a list per row: a Parquet LIST column (written
 * by hyparquet-writer, and by parquet-wasm from an Arrow FixedSizeList), an Arrow IPC List column over
 * several record batches, and a CSV whose cells hold JSON arrays. Outputs are checked against float32
 * products computed here; a row whose list has the wrong length, a null element or no list fails
 * alone with its reason in the errors file; a struct column is refused by name before any row runs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Field, FixedSizeList, Float32, List, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { parquetMetadata } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm/node';
import { runBatch, type RunBatchOptions } from '../../src/app/run-batch.js';
import { flatNumericColumns } from '../../src/codecs/parquet-flat-columns.js';
import { VireoError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/logging/logger.js';
import { buildModel } from '../../tools/modelgen/onnx-graph.js';
import { makeRepository } from '../helpers/repository.js';

const WIDTH = 8;
const ROWS = 300;

/** OUTPUT = EMB × SCALE, FP32: EMB [batch, WIDTH] (a list column), SCALE [batch, 1] (a scalar column). */
function scaleModel(): Uint8Array {
  return buildModel({
    name: 'scale',
    inputs: [{ name: 'EMB', type: 'FLOAT', dims: ['batch', WIDTH] }, { name: 'SCALE', type: 'FLOAT', dims: ['batch', 1] }],
    outputs: [{ name: 'OUTPUT', type: 'FLOAT', dims: ['batch', WIDTH] }],
    nodes: [{ op: 'Mul', inputs: ['EMB', 'SCALE'], outputs: ['OUTPUT'] }],
  });
}

/** Deterministic float32 embeddings and scales (values exactly representable as float32). */
const emb = Array.from({ length: ROWS }, (_, r) => Array.from({ length: WIDTH }, (_, i) => Math.fround(((r * 31 + i * 17) % 97) / 8 - 6)));
const scale = Array.from({ length: ROWS }, (_, r) => Math.fround(((r % 13) - 6) / 4));
/**
 * float32 × float32 is exact in a double: rounded once, it is the float32 product ONNX Runtime computes
 * (+ 0: JSON writes −0 as 0).
 */
const expected = (r: number) => emb[r]!.map((v) => Math.fround(v * scale[r]!) + 0);

let dir: string;
let repo: { root: string; cleanup: () => Promise<void> };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-lists-'));
  repo = await makeRepository({
    scale: {
      config: { backend: 'onnx', max_batch_size: 16, input: [{ name: 'EMB', data_type: 'TYPE_FP32', dims: [WIDTH] }, { name: 'SCALE', data_type: 'TYPE_FP32', dims: [1] }], output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [WIDTH] }] },
      versions: { 1: scaleModel() },
    },
  });
});
after(async () => {
  await repo?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const job = (options: Partial<RunBatchOptions> & Pick<RunBatchOptions, 'inputs' | 'output'>) =>
  runBatch({ modelRepository: repo.root, logger: silentLogger(), model: 'scale', loadModels: ['scale'], outputFormat: 'jsonl', partRows: 64, ...options });

type Answer = { custom_id: string; response: { body: { outputs: { name: string; data: number[] }[] } } };

async function linesOf<T>(output: string, errors: boolean): Promise<T[]> {
  const found: T[] = [];
  for (const file of (await readdir(join(output, 'parts'))).sort()) {
    if (!file.endsWith('.jsonl') || file.endsWith('.errors.jsonl') !== errors) continue;
    for (const line of (await readFile(join(output, 'parts', file), 'utf8')).split('\n')) if (line) found.push(JSON.parse(line) as T);
  }
  return found;
}

/** Every answered row is the product computed here; the failed rows are exactly `failing`, with their reasons. */
async function check(output: string, failing: Record<string, RegExp>): Promise<void> {
  const answers = await linesOf<Answer>(output, false);
  const errors = await linesOf<{ custom_id: string; error: { message: string } }>(output, true);
  assert.deepEqual(errors.map((e) => e.custom_id).sort(), Object.keys(failing).sort(), JSON.stringify(errors));
  for (const e of errors) assert.match(e.error.message, failing[e.custom_id]!, e.custom_id);
  assert.equal(answers.length + errors.length, ROWS);
  for (const a of answers) {
    const r = Number(a.custom_id);
    assert.deepEqual(a.response.body.outputs.find((o) => o.name === 'OUTPUT')!.data, expected(r), `row ${r}`);
  }
}

describe('vireo batch: list columns', () => {
  it('Parquet LIST column (hyparquet-writer, several row groups) beside a scalar column; bad rows fail alone', async () => {
    const lists: ((number | null)[] | null)[] = emb.map((row) => [...row]);
    lists[5] = emb[5]!.slice(0, WIDTH - 1);
    lists[150]![3] = null;
    lists[222] = null;
    const schema = [
      { name: 'root', num_children: 2 },
      { name: 'EMB', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'OPTIONAL', type: 'FLOAT' },
      { name: 'SCALE', repetition_type: 'OPTIONAL', type: 'FLOAT' },
    ];
    const bytes = new Uint8Array(parquetWriteBuffer({ schema: schema as never, columnData: [{ name: 'EMB', data: lists as never }, { name: 'SCALE', data: scale as never }], rowGroupSize: 100 }));
    await writeFile(join(dir, 'lists.parquet'), bytes);
    // The scalar column beside the LIST keeps the page-by-page path (it used to leave it for any nested schema).
    assert.deepEqual([...flatNumericColumns(parquetMetadata(bytes.buffer as ArrayBuffer)).keys()], ['SCALE']);
    const output = join(dir, 'out-parquet');
    const summary = await job({ inputs: [join(dir, 'lists.parquet')], output });
    assert.equal(summary.rows, ROWS);
    assert.equal(summary.errors, 3);
    await check(output, {
      5: /^column "EMB": a list of 7 values, input "EMB" takes 8 \(dims \[8\]\)$/,
      150: /^column "EMB", element 3: value is missing$/,
      222: /^column "EMB": value is missing$/,
    });
  });

  it('Parquet from an Arrow FixedSizeList<Float32> (parquet-wasm, zstd)', async () => {
    const table = new Table({ EMB: vectorFromArray(emb, new FixedSizeList(WIDTH, new Field('item', new Float32(), false))), SCALE: vectorFromArray(scale, new Float32()) });
    const properties = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).setMaxRowGroupSize(64).build();
    await writeFile(join(dir, 'fixed.parquet'), writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), properties));
    const output = join(dir, 'out-fixed');
    const summary = await job({ inputs: [join(dir, 'fixed.parquet')], output });
    assert.equal(summary.errors, 0);
    await check(output, {});
  });

  it('Arrow IPC file, List<Float32> over three record batches; a row of the wrong length fails alone', async () => {
    const lists = emb.map((row, r) => (r === 77 ? [...row, 1] : row));
    const type = () => new List(new Field('item', new Float32(), true));
    const batch = (a: number, b: number) => new Table({ EMB: vectorFromArray(lists.slice(a, b), type()), SCALE: vectorFromArray(scale.slice(a, b), new Float32()) });
    const table = batch(0, 100).concat(batch(100, 200), batch(200, ROWS));
    assert.equal(table.batches.length, 3);
    await writeFile(join(dir, 'lists.arrow'), tableToIPC(table, 'file'));
    const output = join(dir, 'out-arrow');
    const summary = await job({ inputs: [join(dir, 'lists.arrow')], output });
    assert.equal(summary.errors, 1);
    await check(output, { 77: /^column "EMB": a list of 9 values, input "EMB" takes 8/ });
  });

  it('CSV cells holding JSON arrays, as vireo batch writes list outputs in CSV', async () => {
    const lines = ['EMB,SCALE', ...emb.map((row, r) => `"${JSON.stringify(r === 9 ? row.slice(1) : row)}",${scale[r]}`)];
    await writeFile(join(dir, 'lists.csv'), `${lines.join('\n')}\n`);
    const output = join(dir, 'out-csv');
    const summary = await job({ inputs: [join(dir, 'lists.csv')], output });
    assert.equal(summary.errors, 1);
    await check(output, { 9: /^column "EMB": a list of 7 values/ });
  });

  it('refuses a Parquet struct column by name, before any row runs', async () => {
    const table = new Table({
      EMB: vectorFromArray(emb, new FixedSizeList(WIDTH, new Field('item', new Float32(), false))),
      SCALE: vectorFromArray(scale, new Float32()),
      meta: vectorFromArray(scale.map((s) => ({ s }))),
    });
    await writeFile(join(dir, 'struct.parquet'), writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream'))));
    await assert.rejects(job({ inputs: [join(dir, 'struct.parquet')], output: join(dir, 'out-struct') }), (error: VireoError) => {
      assert.equal(error.code, 'VIREO_ERR_BATCH_INPUT_INVALID');
      assert.match(error.message, /struct\.parquet: column "meta" is a struct; vireo batch reads Parquet columns of scalars and lists of scalars/);
      return true;
    });
  });
});
