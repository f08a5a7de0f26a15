/**
 * Part output encoding with the reused flat-column scratch (FlatScratch): Arrow, CSV and Parquet
 * bytes are identical to those encoded without it, decode (apache-arrow, hyparquet, a plain CSV
 * split) to the rows' own output values, and never share memory with the scratch — writing into it
 * for the next part leaves the previous part's bytes as they were. Rows kept as views of their
 * batch's outputs (RowView, what `vireo batch` stores) encode to the same bytes as rows sliced at once.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { parquetReadObjects } from 'hyparquet';
import { encodePart, FlatScratch, type PartResults } from '../../../src/batch/result-encoders.js';
import { RowView, type RowResult } from '../../../src/batch/run-rows.js';

const SIZE = 5;
const value = (part: number, row: number, k: number) => part * 1000 + row * 10 + k + 0.25;

/** A part of `rows` rows answered in batches of 4 (row outputs are views of the batch's tensor), row 2 failed. */
function part(index: number, rows: number): PartResults {
  const results: RowResult[] = [];
  for (let start = 0; start < rows; start += 4) {
    const n = Math.min(4, rows - start);
    const batch = Float32Array.from({ length: n * SIZE }, (_, i) => value(index, start + Math.floor(i / SIZE), i % SIZE));
    for (let r = 0; r < n; r++) {
      results.push({ ok: true, model: 'm', version: '1', outputs: [{ name: 'OUT', datatype: 'FP32', shape: [1, SIZE], data: batch.subarray(r * SIZE, (r + 1) * SIZE) }] });
    }
  }
  results[2] = { ok: false, error: { code: 'VIREO_ERR_INPUT_DATA', message: 'bad row' } };
  return { part: `p${index}`, ids: Array.from({ length: rows }, (_, r) => String(r)), results };
}

const expectedRows = (index: number, rows: number) => Array.from({ length: rows }, (_, r) => r).filter((r) => r !== 2)
  .map((r) => [String(r), Array.from({ length: SIZE }, (_, k) => Math.fround(value(index, r, k)))] as const);

function decode(format: 'arrow' | 'csv' | 'parquet', bytes: Uint8Array): Promise<[string, number[]][]> | [string, number[]][] {
  if (format === 'arrow') {
    const table = tableFromIPC(bytes);
    return Array.from({ length: table.numRows }, (_, r) => [String(table.getChild('id')!.get(r)), [...table.getChild('OUT')!.get(r)!] as number[]]);
  }
  if (format === 'csv') {
    const [header, ...lines] = new TextDecoder().decode(bytes).trim().split('\n');
    assert.equal(header, 'id,OUT');
    return lines.map((line) => [line.slice(0, line.indexOf(',')), JSON.parse(JSON.parse(line.slice(line.indexOf(',') + 1))) as number[]]);
  }
  return parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer }).then((rows) => rows.map((row) => [String(row.id), row.OUT as number[]]));
}

it('flat columns through a reused scratch: the same bytes, the rows\' values, no memory shared with the scratch', async () => {
  for (const format of ['arrow', 'csv', 'parquet'] as const) {
    const scratch = new FlatScratch();
    const outputs = [{ name: 'OUT', datatype: 'FP32' as const, scalar: false }];
    const first = encodePart(format, part(0, 11), outputs, scratch);
    const kept = Uint8Array.from(first);
    // The next part (larger, then smaller) is written into the same scratch.
    const second = encodePart(format, part(1, 23), outputs, scratch);
    const third = encodePart(format, part(2, 6), outputs, scratch);
    assert.deepEqual(first, kept, `${format}: the first part's bytes changed when the scratch was reused`);
    assert.deepEqual(first, encodePart(format, part(0, 11), outputs), `${format}: bytes differ from those encoded without the scratch`);
    assert.deepEqual(second, encodePart(format, part(1, 23), outputs), `${format}: second part`);
    assert.deepEqual(third, encodePart(format, part(2, 6), outputs), `${format}: third part`);
    for (const [index, rows, bytes] of [[0, 11, first], [1, 23, second], [2, 6, third]] as const) {
      assert.deepEqual(await decode(format, bytes), expectedRows(index, rows), `${format}, part ${index}`);
    }
  }
});

/** part() with its rows as RowViews of each batch's whole output (row 2 failed, so the copied runs break there). */
function viewPart(index: number, rows: number): PartResults {
  const results: RowResult[] = [];
  for (let start = 0; start < rows; start += 4) {
    const n = Math.min(4, rows - start);
    const batch = [{ name: 'OUT', datatype: 'FP32' as const, shape: [n, SIZE], data: Float32Array.from({ length: n * SIZE }, (_, i) => value(index, start + Math.floor(i / SIZE), i % SIZE)) }];
    for (let r = 0; r < n; r++) results.push(new RowView(batch, r, 1, n, 'm', '1'));
  }
  results[2] = { ok: false, error: { code: 'VIREO_ERR_INPUT_DATA', message: 'bad row' } };
  return { part: `p${index}`, ids: Array.from({ length: rows }, (_, r) => String(r)), results };
}

it('rows as views of their batch: the same bytes as rows sliced at once, in every format', async () => {
  const outputs = [{ name: 'OUT', datatype: 'FP32' as const, scalar: false }];
  for (const format of ['arrow', 'csv', 'parquet', 'jsonl'] as const) {
    const scratch = new FlatScratch();
    for (const [index, rows] of [[0, 11], [1, 23], [2, 3]] as const) {
      const bytes = encodePart(format, viewPart(index, rows), outputs, scratch);
      assert.deepEqual(bytes, encodePart(format, part(index, rows), outputs), `${format}, part ${index}`);
      if (format !== 'jsonl') assert.deepEqual(await decode(format, bytes), expectedRows(index, rows), `${format}, part ${index}`);
    }
  }
  // A view's outputs, read one by one, are its own items of the batch's output.
  const view = viewPart(3, 8).results[5] as RowView;
  assert.deepEqual([...view.outputs[0]!.data as Float32Array], Array.from({ length: SIZE }, (_, k) => Math.fround(value(3, 5, k))));
  assert.deepEqual(view.outputs[0]!.shape, [1, SIZE]);
});

it('Arrow string columns: ASCII ids written from their text, other strings and nulls through the builder, all as given', async () => {
  const { writeArrow } = await import('../../../src/codecs/columnar-files.js');
  const ids = ['0', '17', '', 'row-123', 'x'.repeat(300), '9'];
  const carried = ['naïve', '日本語', null, '😀 emoji', 'plain', ''];
  const bytes = writeArrow([
    { name: 'id', type: 'string', list: false, values: ids },
    { name: 'key', type: 'string', list: false, values: carried },
  ]);
  const table = tableFromIPC(bytes);
  assert.deepEqual(Array.from({ length: table.numRows }, (_, r) => table.getChild('id')!.get(r)), ids);
  assert.deepEqual(Array.from({ length: table.numRows }, (_, r) => table.getChild('key')!.get(r)), carried);
  assert.equal(table.getChild('key')!.nullCount, 1);
});
