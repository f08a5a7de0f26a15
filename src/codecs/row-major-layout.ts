/**
 * Which of a file's columns a batch reader writes straight into an input's row-major layout
 * (dataframe-codec.ts's RowMajorColumns), shared by the CSV reader (src/batch/csv-source.ts) and the
 * Parquet reader (columnar-files.ts), so both decide it the same way.
 */

/** A list of columns to read row by row into one array: Float32Array (`float32`) or Float64Array. */
export interface RowMajorSpec {
  names: readonly string[];
  float32: boolean;
}

/**
 * The specs read row-major from a file with these columns: a spec whose columns are all in `header`,
 * distinct, `eligible` (CSV: parsed as numbers) and in no spec kept before it. Any other spec's
 * columns are read one by one, as the rest: a column is in one block at most, since a block is read
 * in its own input's datatype.
 */
export function fittingSpecs(header: readonly string[], specs: readonly RowMajorSpec[] = [], eligible: (name: string) => boolean = () => true): RowMajorSpec[] {
  const present = new Set(header);
  const claimed = new Set<string>();
  return specs.filter((spec) => {
    const fits = spec.names.length > 0 && new Set(spec.names).size === spec.names.length && spec.names.every((n) => present.has(n) && eligible(n) && !claimed.has(n));
    if (fits) for (const n of spec.names) claimed.add(n);
    return fits;
  });
}

/** Each column of these blocks, by name: its block's index and its place within a row of that block. */
export function placesIn(blocks: readonly RowMajorSpec[]): Map<string, { block: number; offset: number }> {
  const places = new Map<string, { block: number; offset: number }>();
  blocks.forEach((spec, block) => spec.names.forEach((name, offset) => places.set(name, { block, offset })));
  return places;
}

type FloatArray = Float32Array | Float64Array;

/**
 * Float arrays reused from one block of rows to the next (a CSV part, a Parquet row group): a block's
 * numbers are read into arrays given back once its rows have run (PartInput.release), not allocated per
 * block. V8 counts every ArrayBuffer as external memory, each few megabytes of which cost a full garbage
 * collection, and a new large array is fresh pages to fault in and zero: a Parquet row group of 16,384
 * rows × 256 float32s read into a new 16 MiB array cost more than the gather per batch it saves
 * (`tsx bench/parquet-row-major.ts`).
 */
export class FloatArrays {
  readonly #free = new Map<string, FloatArray[]>();

  /** An array of `length` numbers, one given back before when there is one (holding its old values). */
  take(float32: boolean, length: number): FloatArray {
    return this.#free.get(key(float32, length))?.pop() ?? (float32 ? new Float32Array(length) : new Float64Array(length));
  }

  give(arrays: Iterable<FloatArray>): void {
    for (const array of arrays) {
      const k = key(array instanceof Float32Array, array.length);
      const free = this.#free.get(k);
      if (free) free.push(array);
      else this.#free.set(k, [array]);
    }
  }
}

const key = (float32: boolean, length: number) => `${float32 ? 'f32' : 'f64'}:${length}`;
