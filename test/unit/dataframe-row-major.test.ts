/**
 * Tables whose columns are partly stored row by row (RowMajorColumns, what `vireo batch` reads a CSV
 * into) give the same tensors as the same values stored a column each, computed here independently
 * (a plain loop over the rows); the tensor owns its buffer (it may be moved to another thread, and
 * the table's array is read into again).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { tableToInputs, type Table } from '../../src/codecs/dataframe-codec.js';
import type { VireoError } from '../../src/core/errors.js';

const ROWS = 5;
const value = (r: number, name: string) => r * 10 + name.charCodeAt(0) - 96 + 0.1;

/** Columns c and a row by row (in that order), b a column of its own. */
function table(float32: boolean): Table {
  const data = float32 ? new Float32Array(ROWS * 2) : new Float64Array(ROWS * 2);
  for (let r = 0; r < ROWS; r++) {
    data[r * 2] = value(r, 'c');
    data[r * 2 + 1] = value(r, 'a');
  }
  return { columns: new Map([['b', Array.from({ length: ROWS }, (_, r) => value(r, 'b'))]]), rows: ROWS, rowMajor: [{ names: ['c', 'a'], data }] };
}

const input = (name: string, datatype: 'FP32' | 'FP64', columns: string[]) => ({ name, data_type: datatype, dims: [columns.length], columns });

/** The tensor's values as a loop over rows and the input's columns would make them. */
const expected = (columns: string[], round: (v: number) => number) => Array.from({ length: ROWS }, (_, r) => columns.map((c) => round(value(r, c)))).flat();

it('an input made of a row-major block in its order is a copy of the block, in the input\'s datatype', () => {
  for (const float32 of [true, false]) {
    for (const datatype of ['FP32', 'FP64'] as const) {
      const t = table(float32);
      const inputs = [input('X', datatype, ['c', 'a']), input('Y', 'FP32', ['b'])];
      const [x, y] = tableToInputs(t, inputs, new Map([['X', ['c', 'a']], ['Y', ['b']]]), true, false);
      const round = (v: number) => (float32 || datatype === 'FP32' ? Math.fround(v) : v);
      assert.deepEqual(x!.shape, [ROWS, 2]);
      assert.ok(datatype === 'FP32' ? x!.data instanceof Float32Array : x!.data instanceof Float64Array);
      assert.deepEqual([...(x!.data as Float32Array)], expected(['c', 'a'], round));
      assert.deepEqual([...(y!.data as Float32Array)], expected(['b'], Math.fround));
      // Its own buffer, whole: the block read into again does not change it.
      const data = x!.data as Float32Array;
      assert.equal(data.byteLength, data.buffer.byteLength);
      t.rowMajor![0]!.data.fill(-1);
      assert.deepEqual([...data], expected(['c', 'a'], round));
    }
  }
});

it('an input that takes a block\'s columns in another order or another datatype gathers them', () => {
  const t = table(false);
  const [x, y] = tableToInputs(t, [input('X', 'FP32', ['a', 'b']), input('Y', 'FP64', ['c'])], new Map([['X', ['a', 'b']], ['Y', ['c']]]), true, false);
  assert.deepEqual([...(x!.data as Float32Array)], expected(['a', 'b'], Math.fround));
  assert.deepEqual([...(y!.data as Float64Array)], expected(['c'], (v) => v));
});

it('block columns count as the table\'s columns: missing and unknown ones are named', () => {
  const t = table(true);
  assert.throws(() => tableToInputs(t, [input('X', 'FP32', ['c', 'a', 'd'])], new Map([['X', ['c', 'a', 'd']]]), true), (e: VireoError) => /missing column "d"/.test(e.message));
  assert.throws(() => tableToInputs(t, [input('X', 'FP32', ['c', 'b'])], new Map([['X', ['c', 'b']]]), true), (e: VireoError) => /unknown column "a"/.test(e.message));
});
