/**
 * A Parquet file's columns as a dataframe sees them: the root's children, not the schema's leaves. A
 * nested column (a LIST's leaf is `emb.list.element`) is read through hyparquet by its top-level name,
 * which assembles it (a LIST into one array per row; a LIST of numbers without a null is decoded by
 * parquet-list-columns.ts instead). Only a list of scalars has a meaning for a
 * model's input (list-inputs.ts); any other nested column is refused here, by name, before a row is
 * read — handed to hyparquet by a leaf's name it failed with "parquet column not found: item".
 */
import { VireoError } from '../core/errors.js';
import { parquetSchema, type FileMetaData } from 'hyparquet';
import { isListLike, isMapLike } from 'hyparquet/src/schema.js';

type SchemaTree = ReturnType<typeof parquetSchema>;

/** What a nested column is when it is not a list of scalars; undefined for a scalar or such a list. */
function unsupported(column: SchemaTree): string | undefined {
  // A leaf; a REPEATED one is the legacy list of scalars (`repeated float emb`), assembled as a list.
  if (column.children.length === 0) return undefined;
  const { converted_type: converted } = column.element;
  if (isMapLike(column) || converted === 'MAP' || converted === 'MAP_KEY_VALUE') return 'a map';
  if (isListLike(column)) {
    // Three levels (`group emb (LIST) { repeated group list { element } }`) or the legacy two (`{ repeated float array }`).
    const repeated = column.children[0]!;
    if (repeated.children.length === 0) return undefined;
    const element = repeated.children[0]!;
    if (element.children.length === 0 && element.element.repetition_type !== 'REPEATED') return undefined;
    if (element.children.length === 0 || isListLike(element)) return 'a list of lists';
    return isMapLike(element) ? 'a list of maps' : 'a list of structs';
  }
  return converted === 'LIST' ? 'a list of an unusual layout' : 'a struct';
}

/**
 * The file's top-level column names, in the schema's order. Throws VIREO_ERR_BATCH_INPUT_INVALID for
 * a nested column other than a list of scalars.
 */
export function topLevelColumns(path: string, metadata: FileMetaData): string[] {
  return parquetSchema(metadata).children.map((column) => {
    const what = unsupported(column);
    if (what !== undefined) {
      throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${path}: column "${column.element.name}" is ${what}; vireo batch reads Parquet columns of scalars and lists of scalars (a list feeds an input whose dims hold more than one value a row)`);
    }
    return column.element.name;
  });
}

/** The top-level columns that are leaves, by name: the only ones a flat (non-nested) reading may take. */
export function topLevelLeaves(metadata: FileMetaData): Map<string, SchemaTree['element']> {
  const leaves = new Map<string, SchemaTree['element']>();
  for (const column of parquetSchema(metadata).children) if (column.children.length === 0) leaves.set(column.element.name, column.element);
  return leaves;
}
