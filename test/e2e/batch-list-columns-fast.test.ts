/**
 * `vireo batch` over Parquet LIST columns that take the page-by-page path (src/codecs/parquet-list-columns.ts):
 * files from hyparquet-writer (v2, snappy) and parquet-wasm (v1, zstd), three row groups each, no null.
 * Every chunk of the embedding column is asserted to have taken the path (listFastPath's count), every
 * answer is the float32 product computed here, and a row whose list has another length fails alone with
 * the message the general path gives (test/e2e/batch-list-columns.test.ts has the rows with nulls).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Field, Float32, List, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm/node';
import { runBatch } from '../../src/app/run-batch.js';
import { listFastPath } from '../../src/codecs/parquet-list-columns.js';
import { silentLogger } from '../../src/logging/logger.js';
import { buildModel } from '../../tools/modelgen/onnx-graph.js';
import { makeRepository } from '../helpers/repository.js';

const WIDTH = 8;
const ROWS = 300;
const emb = Array.from({ length: ROWS }, (_, r) => Array.from({ length: WIDTH }, (_, i) => Math.fround(((r * 31 + i * 17) % 97) / 8 - 6)));
const scale = Array.from({ length: ROWS }, (_, r) => Math.fround(((r % 13) - 6) / 4));
// Row 5 one value short, row 200 one too many.
const lists = emb.map((row, r) => (r === 5 ? row.slice(1) : r === 200 ? [...row, 1] : row));
/** float32 × float32 is exact in a double: rounded once, the float32 product (+ 0: JSON writes −0 as 0). */
const expected = (r: number) => emb[r]!.map((v) => Math.fround(v * scale[r]!) + 0);
const FAILING: Record<string, RegExp> = {
  5: /^column "EMB": a list of 7 values, input "EMB" takes 8 \(dims \[8\]\)$/,
  200: /^column "EMB": a list of 9 values, input "EMB" takes 8 \(dims \[8\]\)$/,
};

let dir: string;
let repo: { root: string; cleanup: () => Promise<void> };
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-fast-lists-'));
  const model = buildModel({
    name: 'scale',
    inputs: [{ name: 'EMB', type: 'FLOAT', dims: ['batch', WIDTH] }, { name: 'SCALE', type: 'FLOAT', dims: ['batch', 1] }],
    outputs: [{ name: 'OUTPUT', type: 'FLOAT', dims: ['batch', WIDTH] }],
    nodes: [{ op: 'Mul', inputs: ['EMB', 'SCALE'], outputs: ['OUTPUT'] }],
  });
  repo = await makeRepository({
    scale: {
      config: { backend: 'onnx', max_batch_size: 16, input: [{ name: 'EMB', data_type: 'TYPE_FP32', dims: [WIDTH] }, { name: 'SCALE', data_type: 'TYPE_FP32', dims: [1] }], output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: [WIDTH] }] },
      versions: { 1: model },
    },
  });
});
after(async () => {
  await repo?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function linesOf<T>(output: string, errors: boolean): Promise<T[]> {
  const found: T[] = [];
  for (const file of (await readdir(join(output, 'parts'))).sort()) {
    if (!file.endsWith('.jsonl') || file.endsWith('.errors.jsonl') !== errors) continue;
    for (const line of (await readFile(join(output, 'parts', file), 'utf8')).split('\n')) if (line) found.push(JSON.parse(line) as T);
  }
  return found;
}

async function runOver(name: string, bytes: Uint8Array): Promise<void> {
  await writeFile(join(dir, name), bytes);
  const output = join(dir, `out-${name}`);
  const chunks = listFastPath.chunks;
  const summary = await runBatch({ modelRepository: repo.root, logger: silentLogger(), model: 'scale', loadModels: ['scale'], outputFormat: 'jsonl', partRows: 64, inputs: [join(dir, name)], output });
  assert.equal(listFastPath.chunks - chunks, 3, 'each row group\'s LIST chunk took the page-by-page path');
  assert.deepEqual([summary.rows, summary.errors], [ROWS, 2]);
  const errors = await linesOf<{ custom_id: string; error: { message: string } }>(output, true);
  assert.deepEqual(errors.map((e) => e.custom_id).sort(), Object.keys(FAILING).sort());
  for (const e of errors) assert.match(e.error.message, FAILING[e.custom_id]!, e.custom_id);
  const answers = await linesOf<{ custom_id: string; response: { body: { outputs: { name: string; data: number[] }[] } } }>(output, false);
  assert.equal(answers.length, ROWS - 2);
  for (const a of answers) assert.deepEqual(a.response.body.outputs.find((o) => o.name === 'OUTPUT')!.data, expected(Number(a.custom_id)), `row ${a.custom_id}`);
}

describe('vireo batch: Parquet LIST columns page by page', () => {
  it('hyparquet-writer (v2 pages, snappy), three row groups; rows of another length fail alone', async () => {
    const schema = [
      { name: 'root', num_children: 2 },
      { name: 'EMB', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'OPTIONAL', type: 'FLOAT' },
      { name: 'SCALE', repetition_type: 'OPTIONAL', type: 'FLOAT' },
    ];
    await runOver('hw.parquet', new Uint8Array(parquetWriteBuffer({ schema: schema as never, columnData: [{ name: 'EMB', data: lists as never }, { name: 'SCALE', data: scale as never }], rowGroupSize: 100 })));
  });

  it('parquet-wasm (v1 pages, zstd, dictionary), three row groups; rows of another length fail alone', async () => {
    const table = new Table({ EMB: vectorFromArray(lists, new List(new Field('item', new Float32(), true))), SCALE: vectorFromArray(scale, new Float32()) });
    const properties = new WriterPropertiesBuilder().setWriterVersion(WriterVersion.V1).setCompression(Compression.ZSTD).setMaxRowGroupSize(100).setDataPageSizeLimit(512).build();
    await runOver('wasm.parquet', writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), properties));
  });
});
