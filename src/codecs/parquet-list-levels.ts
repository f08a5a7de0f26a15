/**
 * Where each row of a Parquet LIST column starts, read from its repetition levels without an array of
 * them: a list of scalars has one repeated level (a maximum repetition level of 1, one bit), and a
 * level of 0 begins a row (Dremel; parquet-format's "Nested Encoding"). With no null and no empty
 * list in the chunk (parquet-list-columns.ts declines any other), level i is value i, so a row's first
 * level is its first value's position: the ListColumn offsets (list-column.ts).
 *
 * The runs are checked as they are read, as parquet-page-check.ts's checkHybrid checks them: each RLE
 * run within the page's values left, each bit-packed run within them rounded up to its group of 8, each
 * run's bytes within the levels' bytes, every level 0 or 1, and no more rows than the row group holds;
 * a refusal is a RangeError naming the column, reported as a corrupt file. Nothing is allocated here.
 */
import type { DataReader } from 'hyparquet';
import { readVarInt } from 'hyparquet/src/thrift.js';

const corrupt = (message: string): never => {
  throw new RangeError(message);
};

/** The rows a chunk's levels have begun so far; `offsets` holds the row group's rows + 1 entries. */
export interface RowStarts {
  offsets: Int32Array;
  rows: number;
}

/**
 * The `count` repetition levels in [reader.offset, end), the chunk's levels `first`… on: each level 0
 * recorded in `starts` as the start of the next row. The reader is left after the last run.
 */
export function readRowStarts(reader: DataReader, end: number, count: number, first: number, starts: RowStarts, what: string): void {
  const bytes = new Uint8Array(reader.view.buffer, reader.view.byteOffset, reader.view.byteLength);
  const { offsets } = starts;
  const most = offsets.length - 1;
  const begin = (level: number): void => {
    if (starts.rows === most) corrupt(`${what}: its repetition levels begin more rows than the row group's ${most}`);
    offsets[starts.rows++] = level;
  };
  let seen = 0;
  while (seen < count) {
    if (reader.offset >= end) corrupt(`${what}: repetition levels: its runs end after ${seen} of ${count} values`);
    const header = readVarInt(reader);
    if (reader.offset > end) corrupt(`${what}: repetition levels: a run header reaches past its bytes`);
    if (header & 1) {
      // A bit-packed run of groups of 8 one-bit levels, a byte a group, least significant bit first.
      const values = (header >> 1) << 3;
      if (values < 0 || values > count - seen + 7) corrupt(`${what}: repetition levels: a bit-packed run of ${values} values where ${count - seen} are left`);
      if (reader.offset + values / 8 > end) corrupt(`${what}: repetition levels: a bit-packed run reaches past its bytes`);
      const n = Math.min(values, count - seen);
      for (let i = 0; i < n; i++) {
        const byte = bytes[reader.offset + (i >> 3)]!;
        // A group of eight 1s continues the current row: skipped whole (most of a long list's levels).
        if (byte === 0xff && (i & 7) === 0 && i + 8 <= n) {
          i += 7;
          continue;
        }
        if (((byte >> (i & 7)) & 1) === 0) begin(first + seen + i);
      }
      reader.offset += values / 8;
      seen += n;
    } else {
      const values = header >>> 1;
      if (values > count - seen) corrupt(`${what}: repetition levels: an RLE run of ${values} values where ${count - seen} are left`);
      if (reader.offset + 1 > end) corrupt(`${what}: repetition levels: an RLE run reaches past its bytes`);
      const level = bytes[reader.offset++]!;
      if (level > 1) corrupt(`${what}: a repetition level of ${level} where the column's most is 1`);
      if (level === 0) for (let i = 0; i < values; i++) begin(first + seen + i);
      seen += values;
    }
  }
}
