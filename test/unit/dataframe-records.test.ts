/**
 * JSON records → a table (codecs/dataframe-codec.ts `jsonTable`): every record must have record 0's
 * columns, in any order; the first odd column is named. The check is by set (linear in the cells),
 * so it also covers the shapes a quadratic one handled: a missing column, an extra one, the same
 * count with one name swapped.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { jsonTable } from '../../src/codecs/dataframe-codec.js';

const message = (body: unknown) => {
  try {
    jsonTable(body);
    return 'accepted';
  } catch (error) {
    return (error as Error).message;
  }
};

it('takes records whose columns match record 0 in any order, column by column', () => {
  const table = jsonTable([{ a: 1, b: 'x' }, { b: 'y', a: 2 }])!;
  assert.deepEqual([...table.columns.keys()], ['a', 'b']);
  assert.deepEqual(table.columns.get('a'), [1, 2]);
  assert.deepEqual(table.columns.get('b'), ['x', 'y']);
  assert.equal(table.rows, 2);
});

it('names the first odd column of the first record that differs', () => {
  assert.match(message([{ a: 1, b: 2 }, { a: 1 }]), /record 1 does not have the same columns as record 0 \(column "b"\)/);
  assert.match(message([{ a: 1, b: 2 }, { a: 1, b: 2, c: 3 }]), /record 1 .*\(column "c"\)/);
  assert.match(message([{ a: 1, b: 2 }, { a: 1, b: 2 }, { a: 1, c: 2 }]), /record 2 .*\(column "c"\)/);
  assert.match(message([{ a: 1 }, [1]]), /record 1 is not a JSON object/);
});

it('checks wide records column by column (2,048 columns, one missing in the last record)', () => {
  const names = Array.from({ length: 2048 }, (_, i) => `c${i}`);
  const record = Object.fromEntries(names.map((n, i) => [n, i]));
  const last = { ...record };
  delete last.c1234;
  const body = [...Array.from({ length: 50 }, () => ({ ...record })), last];
  assert.match(message(body), /record 50 .*\(column "c1234"\)/);
  const table = jsonTable(body.slice(0, 50))!;
  assert.equal(table.columns.size, 2048);
  assert.deepEqual(table.columns.get('c2047')?.slice(0, 2), [2047, 2047]);
});
