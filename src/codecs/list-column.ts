/**
 * A dataframe column whose cell in each row is a list of numbers (an embedding column: Arrow
 * List/FixedSizeList of a numeric type), kept as one typed array of all its elements and the offsets
 * of each row's list (from Arrow, arrow-list-columns.ts, and Parquet, parquet-list-columns.ts), so an
 * input's tensor can be copied from it without a JS value per element
 * (list-inputs.ts). It stands in a Table's `columns` where an array of cells would (read by `length`,
 * `slice` and iteration only, as a typed scalar column is), so slicing a table into batches views it.
 *
 * Invariant: `offsets` has `length + 1` entries, non-decreasing, each within `elements`; row r's list
 * is elements[offsets[r], offsets[r + 1]) — rows follow each other, so rows [a, b) are the one
 * contiguous run elements[offsets[a], offsets[b]).
 */

export type ListElements = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array | BigInt64Array | BigUint64Array;

/** `ListColumn.missing` of a row without a flaw, and of a row whose list itself is null. */
export const LIST_OK = -1;
export const LIST_NULL = -2;

export class ListColumn {
  constructor(
    readonly elements: ListElements,
    readonly offsets: Int32Array,
    /**
     * Per row, when any row has a flaw: LIST_NULL (the list is null), the position of its first null
     * element, or LIST_OK. Such rows fail by name rather than run on the zeros a null slot holds.
     */
    readonly missing?: Int32Array,
  ) {}

  get length(): number {
    return this.offsets.length - 1;
  }

  /** Rows [start, end) as a view of the same elements. */
  slice(start: number, end: number): ListColumn {
    return new ListColumn(this.elements, this.offsets.subarray(start, end + 1), this.missing?.subarray(start, end));
  }

  /** Row r's list, a view (undefined for a null list). */
  row(r: number): ListElements | undefined {
    if (this.missing?.[r] === LIST_NULL) return undefined;
    return this.elements.subarray(this.offsets[r]!, this.offsets[r + 1]!);
  }

  /** Rows as JS values (a carried column written out): arrays of numbers or bigints, null for a null list. */
  *[Symbol.iterator](): IterableIterator<unknown> {
    for (let r = 0; r < this.length; r++) {
      const list = this.row(r);
      yield list ? Array.from(list as ArrayLike<unknown>) : null;
    }
  }
}
