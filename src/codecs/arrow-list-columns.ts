/**
 * Arrow columns of lists (List, LargeList, FixedSizeList) as dataframe cells, for the REST Arrow body
 * (dataframe-codec.ts) and `vireo batch`'s Arrow reader (arrow-batch-reader.ts). A list of a numeric
 * element type (integers, FP32, FP64) becomes a ListColumn: its child's values viewed (one record
 * batch) or copied once (several), never a JS value per element, so a Float32 embedding goes into
 * the tensor in one copy. Any other nested column comes as JS values, lists as plain arrays.
 *
 * apache-arrow does not check a list's offsets against its child (a corrupt or hostile file may
 * declare any), so each row's span is checked here before it is used; a refusal is an Error naming
 * the column, which each caller reports as an invalid Arrow body or file.
 */
import { DataType, Precision, Vector, type Data } from 'apache-arrow';
import { LIST_NULL, ListColumn, type ListElements } from './list-column.js';

type ListType = DataType & { children: { type: DataType }[]; listSize?: number };

const isListType = (type: DataType): boolean => DataType.isList(type) || DataType.isLargeList(type) || DataType.isFixedSizeList(type);

/** Whether a list's elements are plain numbers in a typed array (not half floats, whose array holds raw bits). */
function numericElements(type: DataType): boolean {
  const element = (type as ListType).children[0]?.type;
  return element !== undefined && (DataType.isInt(element) || (DataType.isFloat(element) && element.precision !== Precision.HALF));
}

/** A column's cells: a ListColumn for a list of numbers, else JS values (lists as arrays). */
export function arrowCells(vector: Vector, name: string): unknown[] {
  if (isListType(vector.type) && numericElements(vector.type)) return listColumnOf(vector, name) as unknown as unknown[];
  const cells = [...vector];
  return isListType(vector.type) ? cells.map(plain) : cells;
}

/** A list cell (a Vector) as an array, at every depth; anything else as it is. */
function plain(value: unknown): unknown {
  return value instanceof Vector ? [...(value as Iterable<unknown>)].map(plain) : value;
}

/** Row i's list of `data` as [begin, end) positions in its child. */
function spanOf(data: Data, i: number): [number, number] {
  const size = (data.type as ListType).listSize;
  if (size !== undefined) return [i * size, (i + 1) * size];
  return [Number(data.valueOffsets[i]), Number(data.valueOffsets[i + 1])];
}

function listColumnOf(vector: Vector, name: string): ListColumn {
  const rows = vector.length;
  const offsets = new Int32Array(rows + 1);
  let missing: Int32Array | undefined;
  const runs: { values: ListElements; begin: number; end: number }[] = [];
  let total = 0;
  let row = 0;
  for (const data of vector.data) {
    const child = data.children[0]!;
    const values = child.values as ListElements;
    const [begin] = data.length > 0 ? spanOf(data, 0) : [0];
    let previous = begin;
    for (let i = 0; i < data.length; i++, row++) {
      const [start, end] = spanOf(data, i);
      if (start !== previous || end < start || end > values.length || end > child.length) throw new Error(`column "${name}": row ${row}'s list spans [${start}, ${end}) of ${Math.min(values.length, child.length)} values`);
      previous = end;
      offsets[row + 1] = total + end - begin;
      const nullList = data.nullCount > 0 && !data.getValid(i);
      let flaw = nullList ? LIST_NULL : -1;
      if (!nullList && child.nullCount > 0) {
        for (let j = start; j < end; j++) {
          if (!child.getValid(j)) {
            flaw = j - start;
            break;
          }
        }
      }
      if (flaw !== -1) (missing ??= new Int32Array(rows).fill(-1))[row] = flaw;
    }
    runs.push({ values, begin, end: previous });
    total += previous - begin;
  }
  if (total > 2 ** 31 - 1) throw new Error(`column "${name}": ${total} list values, more than one column may hold`);
  let elements: ListElements;
  if (runs.length === 1) {
    elements = runs[0]!.values.subarray(runs[0]!.begin, runs[0]!.end);
  } else {
    // Several record batches: their runs copied into one array (a body's batches are read whole anyway).
    const Elements = (runs[0]?.values.constructor ?? Float32Array) as new (n: number) => ListElements;
    elements = new Elements(total);
    let at = 0;
    for (const { values, begin, end } of runs) {
      (elements as Float64Array).set(values.subarray(begin, end) as Float64Array, at);
      at += end - begin;
    }
  }
  return new ListColumn(elements, offsets, missing);
}
