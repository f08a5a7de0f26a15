/**
 * The CSV reader's two paths (numbers scanned from the line bytes, or the lines decoded and split or
 * csv-parsed) against an independent reading of the same file: csv-parse over the whole text with the
 * REST path's options, then `Number` for each numeric cell. Parts of 3 lines mix clean ASCII parts
 * (byte path) with parts that hold a quoted cell, text beyond ASCII, or CRLF and blank lines.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import type { Table } from '../../../src/codecs/dataframe-codec.js';
import { csvSource, type CsvColumns } from '../../../src/batch/csv-source.js';
import type { InputRows } from '../../../src/batch/run-rows.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-csv-source-'));
after(() => rm(dir, { recursive: true, force: true }));

const NUMERIC = new Set(['a', 'b', 'c']);

/** A table's cell, from its own column or from the row-major block that holds the column. */
function cellOf(table: Table, name: string, row: number): unknown {
  const column = table.columns.get(name);
  if (column) return column[row];
  const block = table.rowMajor!.find((b) => b.names.includes(name))!;
  return block.data[row * block.names.length + block.names.indexOf(name)];
}

/**
 * Every row the reader hands to the model, as [name, a, b, c], in order; a numeric cell the text path
 * left as a string is read with `Number`, as the dataframe codec's cell() reads it.
 */
async function readRows(path: string, partRows: number, numeric: ReadonlySet<string> = NUMERIC, layout: CsvColumns = { numeric }): Promise<unknown[][]> {
  const tables: Table[] = [];
  const source = csvSource({ path, fileIndex: 0, blockBytes: 1 << 20 }, (table) => {
    tables.push(table);
    return { model: 'm', inputs: [] };
  }, undefined, layout);
  const rows: unknown[][] = [];
  for await (const part of source.parts({ owns: () => true, committed: () => false, partRows })) {
    tables.length = 0;
    await part.rows.requests(0, part.rows.ids.length);
    for (const table of tables.filter((t) => t.rows > 0)) {
      for (let r = 0; r < table.rows; r++) rows.push(['name', 'a', 'b', 'c'].map((c) => {
        const cell = cellOf(table, c, r);
        return numeric.has(c) && typeof cell === 'string' ? Number(cell) : cell;
      }));
    }
  }
  return rows;
}

function reference(text: string, numeric: ReadonlySet<string> = NUMERIC): unknown[][] {
  const [header, ...records] = parse(text, { bom: true, trim: true, skip_empty_lines: true }) as string[][];
  return records.map((record) => header!.map((name, c) => (numeric.has(name) ? Number(record[c]) : record[c])));
}

it('numbers and text cells as csv-parse and Number read them, on both paths', async () => {
  const lines = [
    'name,a,b,c',
    'r0,0.1,-2.5000,3', ' r1\t, 7 ,1e3,-0.0001', 'r2,.5,5.,007', // clean: bytes
    'r3,1.25,2,3', '"r,4",1,2,3', 'r5,0.30000000000000004,9007199254740993,1.7976931348623157e308', // a quote: csv-parse
    'café,1,2,3', 'r7,4,5,6', 'naïve  ,  -1.5,2,3', // beyond ASCII: decoded, split
    'r9,1,2,3\r', '   \t', 'r10,123456789012345,0.0000000000000000000001,-7\r', // CRLF and a blank line
    'r11,2,3,4', 'r12,5,6,7', 'r13,8,9,10',
  ];
  const text = `${lines.join('\n')}\n`;
  const path = join(dir, 'mixed.csv');
  await writeFile(path, text);
  const expected = reference(text);
  assert.equal(expected.length, 14);
  for (const partRows of [3, 1, 1000]) {
    const got = await readRows(path, partRows);
    assert.equal(got.length, expected.length, `parts of ${partRows}`);
    got.forEach((row, r) => row.forEach((cell, c) => assert.ok(Object.is(cell, expected[r]![c]), `parts of ${partRows}, row ${r}, column ${c}: ${String(cell)} vs ${String(expected[r]![c])}`)));
  }
  // No numeric column: every cell a string, the lines decoded as read.
  assert.deepEqual(await readRows(path, 3, new Set()), reference(text, new Set()));
  // Columns c and a read row by row into one array (an input's `columns`, in its order): the same
  // values, rounded to float32 where the input is FP32; b stays a column of its own.
  for (const float32 of [false, true]) {
    // What the FP32 input gets either way: parts the string path reads (a quote) hold strings the codec rounds.
    const rounded = (row: unknown[]) => row.map((cell, c) => (float32 && c !== 2 && typeof cell === 'number' ? Math.fround(cell) : cell));
    const got = (await readRows(path, 3, NUMERIC, { numeric: NUMERIC, rowMajor: [{ names: ['c', 'a'], float32 }] })).map(rounded);
    const want = expected.map(rounded);
    assert.equal(got.length, want.length);
    got.forEach((row, r) => row.forEach((cell, c) => assert.ok(Object.is(cell, want[r]![c]), `float32 ${float32}, row ${r}, column ${c}: ${String(cell)} vs ${String(want[r]![c])}`)));
  }
});

it('reads a column list row by row only when every column is a numeric one of the header, once', async () => {
  const path = join(dir, 'layouts.csv');
  await writeFile(path, 'name,a,b,c\nr0,1,2,3\nr1,4,5,6\n');
  const layouts = async (layout: CsvColumns) => {
    const tables: Table[] = [];
    const source = csvSource({ path, fileIndex: 0, blockBytes: 1 << 20 }, (table) => {
      tables.push(table);
      return { model: 'm', inputs: [] };
    }, undefined, layout);
    for await (const part of source.parts({ owns: () => true, committed: () => false, partRows: 10 })) await part.rows.requests(0, part.rows.ids.length);
    const table = tables.at(-1)!;
    return { own: [...table.columns.keys()], rowMajor: (table.rowMajor ?? []).map((b) => b.names.join('+')) };
  };
  assert.deepEqual(await layouts({ numeric: NUMERIC, rowMajor: [{ names: ['a', 'b'], float32: true }, { names: ['b', 'c'], float32: true }] }), { own: ['name', 'c'], rowMajor: ['a+b'] });
  assert.deepEqual(await layouts({ numeric: NUMERIC, rowMajor: [{ names: ['a', 'x'], float32: true }] }), { own: ['name', 'a', 'b', 'c'], rowMajor: [] });
  assert.deepEqual(await layouts({ numeric: new Set(['a']), rowMajor: [{ names: ['a', 'name'], float32: true }] }), { own: ['name', 'a', 'b', 'c'], rowMajor: [] });
});

it('a line that is not UTF-8 fails alone, with its line number; the other rows are read, on both paths', async () => {
  const path = join(dir, 'bad-utf8.csv');
  await writeFile(path, Buffer.concat([Buffer.from('name,a,b,c\nr0,1,2,3\nr'), Buffer.from([0xff, 0xfe]), Buffer.from(',1,2,3\nr2,4,5,6\n')]));
  for (const numeric of [NUMERIC, new Set<string>()]) {
    const source = csvSource({ path, fileIndex: 0, blockBytes: 1 << 20 }, () => ({ model: 'm', inputs: [] }), undefined, { numeric });
    const parts = [];
    for await (const part of source.parts({ owns: () => true, committed: () => false, partRows: 10 })) parts.push(part);
    assert.equal(parts.length, 1);
    assert.deepEqual(parts[0]!.rows.ids, ['0', '1', '2']);
    assert.deepEqual([...parts[0]!.rows.failed!].map(([row, error]) => [row, error.code, error.message]), [[1, 'VIREO_ERR_INPUT_DATA', 'line 3 is not valid UTF-8']]);
    const expected = reference('name,a,b,c\nr0,1,2,3\nr2,4,5,6\n', numeric);
    assert.deepEqual(await readRows(path, 10, numeric), expected);
  }
});

it('a large part is scanned in turns of the event loop, so the loop can feed the instances meanwhile', async () => {
  // 4,096 clean rows of 8 numbers: the byte path. A slicer that asks for a turn whenever it is
  // consulted (every 32 rows): each turn must have passed — its setImmediate run — before the scan
  // goes on, so all of them have when the part's first request is made.
  const columns = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const rows = 4096;
  const value = (r: number, c: number) => (((r * 31 + c * 17) % 2000) / 100 - 10).toFixed(2);
  const text = `${columns.join(',')}\n${Array.from({ length: rows }, (_, r) => columns.map((_, c) => value(r, c)).join(',')).join('\n')}\n`;
  const path = join(dir, 'turns.csv');
  await writeFile(path, text);
  let asked = 0;
  let passed = 0;
  const slicer = { pause: () => { asked++; return new Promise<void>((resolve) => setImmediate(() => { passed++; resolve(); })); } };
  let passedAtRequest = -1;
  const source = csvSource({ path, fileIndex: 0, blockBytes: 1 << 20 }, (table) => {
    passedAtRequest = passed;
    return { model: 'm', inputs: [{ name: 'x', datatype: 'FP64', shape: [table.rows], data: Float64Array.from({ length: table.rows }, (_, r) => cellOf(table, 'a', r) as number) }] };
  }, undefined, { numeric: new Set(columns) }, slicer);
  const parts = source.parts({ owns: () => true, committed: () => false, partRows: rows });
  const part = await parts.next();
  assert.equal(part.done, false);
  const spans = await (part.value as { rows: InputRows }).rows.requests(0, rows);
  await parts.return(undefined);
  assert.equal(asked, rows / 32);
  assert.equal(passedAtRequest, asked, 'every turn the scan asked for passed before it went on');
  // Values unchanged by the turns: column a as Number reads it.
  assert.equal(spans.length, 1);
  const data = spans[0]!.request.inputs[0]!.data as Float64Array;
  assert.deepEqual([...data], Array.from({ length: rows }, (_, r) => Number(value(r, 0))));
});
