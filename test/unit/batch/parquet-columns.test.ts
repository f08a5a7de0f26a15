/**
 * Parquet columns as the batch reader hands them on (openParquet): numbers from OPTIONAL columns
 * without a null (hyparquet-writer's default, as pandas', Polars' and Spark's) come out as typed
 * arrays holding exactly the written values; a column with a null, 64-bit integers and strings stay
 * JS values. Expected values are the ones written, not read back through Vireo.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { openParquet } from '../../../src/codecs/columnar-files.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-parquet-columns-'));
after(() => rm(dir, { recursive: true, force: true }));

it('numbers without nulls typed and exact; nulls, INT64 and strings as JS values', async () => {
  const rows = 10;
  const floats = Array.from({ length: rows }, (_, r) => r / 3 - 1);
  const doubles = Array.from({ length: rows }, (_, r) => (r === 7 ? null : r * 1.1 + 1e-12));
  const ints = Array.from({ length: rows }, (_, r) => r * 1000 - 3);
  const longs = Array.from({ length: rows }, (_, r) => BigInt(r) * 10_000_000_000n);
  const names = Array.from({ length: rows }, (_, r) => `row ${r}`);
  const path = join(dir, 'mixed.parquet');
  await writeFile(path, new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: 'f', data: floats, type: 'FLOAT' },
      { name: 'd', data: doubles, type: 'DOUBLE' },
      { name: 'i', data: ints, type: 'INT32' },
      { name: 'l', data: longs, type: 'INT64' },
      { name: 's', data: names, type: 'STRING' },
    ],
    rowGroupSize: 4,
  })));
  const file = await openParquet(path);
  assert.equal(file.rowGroups, 3);
  for (let group = 0; group < file.rowGroups; group++) {
    const chunk = await file.read(group);
    const first = file.firstRows[group]!;
    const want = (values: unknown[]) => values.slice(first, first + chunk.rows);
    const column = (name: string) => chunk.columns.get(name)!;
    assert.ok(ArrayBuffer.isView(column('f')), `group ${group}: FLOAT typed`);
    assert.deepEqual(Array.from(column('f')), want(floats.map(Math.fround)));
    assert.ok(ArrayBuffer.isView(column('i')), `group ${group}: INT32 typed`);
    assert.deepEqual(Array.from(column('i')), want(ints));
    // Row 7 is null: its group stays JS values (null kept), the others are typed.
    assert.equal(ArrayBuffer.isView(column('d')), group !== 1, `group ${group}: DOUBLE typed unless it has the null`);
    assert.deepEqual(Array.from(column('d')), want(doubles));
    assert.deepEqual(column('l'), want(longs));
    assert.deepEqual(column('s'), want(names));
  }
});
