/**
 * The CSV number scanner against `Number` itself (the independent reference: it is what the REST
 * dataframe path applies to each cell): bit-identical values on random and edge-case decimals, and
 * "not clean" exactly where `Number` gives no finite value or the cell is not decimal text (blank, hex, …).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNumericBytes, parseNumericLine } from '../../src/batch/csv-numbers.js';

/** What the general path makes of one numeric cell: its value, or undefined when it is refused. */
function reference(cell: string): number | undefined {
  const value = Number(cell);
  // A decimal (an exponent allowed), as CSV writers write numbers; `Number` alone also reads hex, binary and octal.
  const decimal = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(cell);
  if (!Number.isFinite(value) || !decimal) return undefined;
  return value;
}

/** Each column an array of its own: row r's value at r. */
const own = (n: number) => ({ stride: new Array<number>(n).fill(1), offset: new Array<number>(n).fill(0) });

/** The text scanner's values, after checking the byte scanner gives the very same (or refuses the same). */
function scan(cells: string[]): (number | undefined)[] | undefined {
  const columns = cells.map(() => new Float64Array(1));
  const fromText = parseNumericLine(cells.join(','), 0, { columns, numeric: cells.map(() => true), ...own(cells.length) }) ? columns.map((c) => c[0]) : undefined;
  const byteColumns = cells.map(() => new Float64Array(1));
  const fromBytes = parseNumericBytes(Buffer.from(cells.join(',')), 0, { columns: byteColumns, numeric: cells.map(() => true), ...own(cells.length) }) ? byteColumns.map((c) => c[0]) : undefined;
  assert.equal(fromBytes === undefined, fromText === undefined, `${JSON.stringify(cells)}: text and bytes disagree on refusing`);
  fromText?.forEach((v, i) => assert.ok(Object.is(v, fromBytes![i]), `${JSON.stringify(cells[i])}: text ${v}, bytes ${fromBytes![i]}`));
  return fromText;
}

const same = (a: number, b: number) => Object.is(a, b);

describe('parseNumericLine and parseNumericBytes', () => {
  it('gives exactly Number\'s value for random decimals of every length', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      const intDigits = Math.floor(random() * 12);
      const fracDigits = Math.floor(random() * 24);
      const digits = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 10)).join('');
      let text = `${random() < 0.5 ? '-' : ''}${digits(intDigits)}${fracDigits > 0 || intDigits === 0 ? `.${digits(Math.max(1, fracDigits))}` : ''}`;
      if (random() < 0.1) text = ` ${text}\t`;
      const [value] = scan([text])!;
      assert.ok(same(value!, reference(text)!), `${JSON.stringify(text)}: ${value} vs ${reference(text)}`);
    }
  });

  it('agrees with Number on edge cases, and refuses what it refuses', () => {
    const cases = ['0', '-0', '-0.0000', '0.1', '.5', '5.', '-.5', '007', '1e3', '1E-7', '+1.5', '0x1F', '123456789012345', '1234567890123456789',
      '0.30000000000000004', '9007199254740993', '1.7976931348623157e308', ' 2.5 ', '2.5\r', 'Infinity', '-Infinity', 'NaN', 'abc', '1.2.3',
      '-', '.', '', '   ', '1_000', '0b101', '0o7', '0X1F', '1e', 'e5', '+-1', '0.0000000000000000000001', '0.00000000000000000000001', '1e400'];
    for (const text of cases) {
      const got = scan([text]);
      const want = reference(text);
      if (want === undefined) assert.equal(got, undefined, `${JSON.stringify(text)} must not be clean`);
      else assert.ok(got && same(got[0]!, want), `${JSON.stringify(text)}: ${got?.[0]} vs ${want}`);
    }
  });

  it('keeps text columns as trimmed strings and refuses a line whose cell count differs', () => {
    const columns = [new Float64Array(1), new Array<unknown>(1), new Float64Array(1)];
    const target = { columns, numeric: [true, false, true], ...own(3) };
    assert.equal(parseNumericLine('1.25, a b ,-3', 0, target), true);
    assert.deepEqual([columns[0]![0], columns[1]![0], columns[2]![0]], [1.25, 'a b', -3]);
    assert.equal(parseNumericLine('1,2', 0, target), false);
    assert.equal(parseNumericLine('1,2,3,4', 0, target), false);
    assert.equal(parseNumericLine('1,x,', 0, target), false);
  });

  it('bytes: text columns as trimmed strings; a quote or a byte beyond ASCII is left to the text path', () => {
    const columns = [new Float64Array(1), new Array<unknown>(1), new Float64Array(1)];
    const target = { columns, numeric: [true, false, true], ...own(3) };
    assert.equal(parseNumericBytes(Buffer.from(' 1.25 ,\t a b ,-3'), 0, target), true);
    assert.deepEqual([columns[0]![0], columns[1]![0], columns[2]![0]], [1.25, 'a b', -3]);
    assert.equal(parseNumericBytes(Buffer.from('1,"a",3'), 0, target), false);
    assert.equal(parseNumericBytes(Buffer.from('1,caf\u00e9,3'), 0, target), false);
    assert.equal(parseNumericBytes(Buffer.from('1\u00a0,a,3'), 0, target), false);
    assert.equal(parseNumericBytes(Buffer.from('1,2'), 0, target), false);
    assert.equal(parseNumericBytes(Buffer.from('1,2,3,4'), 0, target), false);
    assert.equal(parseNumericBytes(Buffer.from('1,x,'), 0, target), false);
  });

  it('writes numbers where stride and offset say: columns read row by row into one array', () => {
    // Columns a, name, b, c; a and c make one row-major block [c, a] (in that order), b is a column of its own.
    const block = new Float32Array(2 * 2);
    const b = new Float64Array(2);
    const names = new Array<unknown>(2);
    const target = { columns: [block, names, b, block], numeric: [true, false, true, true], stride: [2, 1, 1, 2], offset: [1, 0, 0, 0] };
    for (const parse of [(line: string, row: number) => parseNumericLine(line, row, target), (line: string, row: number) => parseNumericBytes(Buffer.from(line), row, target)]) {
      block.fill(0);
      assert.equal(parse('1.5,x,2,0.1', 0), true);
      assert.equal(parse('-3,y,4,1e-3', 1), true);
      assert.deepEqual([...block], [Math.fround(0.1), 1.5, Math.fround(0.001), -3]);
      assert.deepEqual([...b], [2, 4]);
      assert.deepEqual(names, ['x', 'y']);
    }
  });
});
