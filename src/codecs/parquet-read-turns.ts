/**
 * How the columns a Parquet row group leaves to hyparquet are read: a few at a time, each few on a
 * turn of the event loop of its own (columnar-files.ts says why), grouped by the values they hold.
 */
import type { ColumnChunk as ParquetColumnChunk } from 'hyparquet';

/** Cells decoded per turn of the event loop: at ≈ 35 ns a cell of an OPTIONAL float column, ≈ 10 ms. */
export const CELLS_PER_TURN = 1 << 18;

/**
 * The columns left to hyparquet in groups of ≈ CELLS_PER_TURN values each (at least one column a
 * group), in order. A column's values are its chunk's (a LIST column of 256-value embeddings holds 256
 * a row), so a list column is not counted as one cell a row beside scalars.
 */
export function turnsOf(names: readonly string[], chunks: readonly ParquetColumnChunk[], rows: number): string[][] {
  const values = new Map<string, number>();
  for (const chunk of chunks) {
    const name = chunk.meta_data?.path_in_schema[0];
    if (name !== undefined) values.set(name, (values.get(name) ?? 0) + Math.max(rows, Number(chunk.meta_data!.num_values)));
  }
  const turns: string[][] = [];
  let cells = CELLS_PER_TURN;
  for (const name of names) {
    const own = values.get(name) ?? rows;
    if (cells + own > CELLS_PER_TURN && cells > 0) {
      turns.push([]);
      cells = 0;
    }
    turns.at(-1)!.push(name);
    cells += own;
  }
  return turns;
}
