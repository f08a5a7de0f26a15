/**
 * List columns into inputs (src/codecs/list-inputs.ts, arrow-list-columns.ts, parquet-top-columns.ts)
 * for the cases the end-to-end tests leave out: 64-bit integers kept exact (Arrow Int64 lists, CSV JSON
 * text), LargeList, a variable dim over Arrow, two variable dims refused at the model, and the Parquet
 * nested columns other than a list of scalars refused by name. Expected values are the inputs themselves.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Field, Float32, Int64, LargeList, List, Table, Utf8, tableToIPC, vectorFromArray, type Vector } from 'apache-arrow';
import { parquetMetadata, type FileMetaData } from 'hyparquet';
import { Table as WasmTable, writeParquet } from 'parquet-wasm/node';
import { dataframeColumns, parseArrow, parseCsv, tableToInputs, type DataframeInput, type Table as Dataframe } from '../../src/codecs/dataframe-codec.js';
import { topLevelColumns } from '../../src/codecs/parquet-top-columns.js';
import { VireoError } from '../../src/core/errors.js';

function inputsOf(table: Dataframe, inputs: DataframeInput[]) {
  const columns = dataframeColumns(inputs);
  assert.ok(typeof columns !== 'string', String(columns));
  return tableToInputs(table, inputs, columns, true);
}

const big = 2n ** 62n + 1n;

it('Arrow Int64 lists into an INT64 input, exact, with a variable dim', async () => {
  const rows = [[1n, -big, 3n], [big, 0n, -7n]];
  const table = await parseArrow(tableToIPC(new Table({ ids: vectorFromArray(rows, new List(new Field('item', new Int64(), true))) }), 'stream'));
  const [tensor] = inputsOf(table, [{ name: 'ids', data_type: 'INT64', dims: [-1] }]);
  assert.deepEqual(tensor!.shape, [2, 3]);
  assert.deepEqual([...tensor!.data as BigInt64Array], rows.flat());
});

it('Arrow LargeList<Float32> into an FP32 input', async () => {
  const rows = [[0.5, 1.5], [2.5, -3.5]];
  const table = await parseArrow(tableToIPC(new Table({ x: vectorFromArray(rows, new LargeList(new Field('item', new Float32(), true))) }), 'file'));
  const [tensor] = inputsOf(table, [{ name: 'x', data_type: 'FP32', dims: [2] }]);
  assert.deepEqual([...tensor!.data as Float32Array], rows.flat());
});

it('a CSV cell\'s JSON array keeps 64-bit integers exact', async () => {
  const csv = await parseCsv(new TextEncoder().encode(`ids\n"[1, ${big}]"\n"[${-big}, 2]"\n`));
  const [tensor] = inputsOf(csv, [{ name: 'ids', data_type: 'INT64', dims: [2] }]);
  assert.deepEqual([...tensor!.data as BigInt64Array], [1n, big, -big, 2n]);
});

it('refuses two variable dims at the model, with the reason', () => {
  assert.match(String(dataframeColumns([{ name: 'x', data_type: 'FP32', dims: [-1, -1] }])), /input "x" has dims \[-1,-1\] and no "columns" list/);
});

it('Parquet: a list of lists, a map and a list of structs are refused by name; a LIST of strings is taken', () => {
  const parquet = (columns: Record<string, Vector>) => {
    const bytes = writeParquet(WasmTable.fromIPCStream(tableToIPC(new Table(columns), 'stream')));
    return parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  };
  const refused = (what: RegExp) => (error: VireoError) => error.code === 'VIREO_ERR_BATCH_INPUT_INVALID' && what.test(error.message);
  const nested = parquet({ grid: vectorFromArray([[[1, 2]], [[3]]], new List(new Field('item', new List(new Field('item', new Float32(), true)), true))) });
  assert.throws(() => topLevelColumns('f.parquet', nested), refused(/^f\.parquet: column "grid" is a list of lists/));
  // Only the schema is read: a map's as Parquet's spec lays it out.
  const map = { schema: [
    { name: 'root', num_children: 1 },
    { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'MAP', num_children: 1 },
    { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
    { name: 'key', repetition_type: 'REQUIRED', type: 'BYTE_ARRAY', converted_type: 'UTF8' },
    { name: 'value', repetition_type: 'OPTIONAL', type: 'FLOAT' },
  ] } as unknown as FileMetaData;
  assert.throws(() => topLevelColumns('f.parquet', map), refused(/column "tags" is a map/));
  const structs = parquet({ items: vectorFromArray([[{ a: 1 }]]) });
  assert.throws(() => topLevelColumns('f.parquet', structs), refused(/column "items" is a list of structs/));
  const strings = parquet({ words: vectorFromArray([['a', 'b']], new List(new Field('item', new Utf8(), true))), n: vectorFromArray([1], new Float32()) });
  assert.deepEqual(topLevelColumns('f.parquet', strings), ['words', 'n']);
});
