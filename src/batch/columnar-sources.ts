/**
 * Parquet and Arrow IPC inputs. A Parquet block is a row group: a shard reads only the row groups
 * it owns (byte ranges, through the footer). An Arrow block is a record batch: IPC has no index of
 * batches in its stream form, so every shard reads the stream through and decodes only the batches
 * it owns. Either way a part is at most `partRows` rows of one block, and the row's position in the
 * file (0-based) is its id.
 */
import { stat } from 'node:fs/promises';
import { readArrowBatches, type ArrowReadOptions } from '../codecs/arrow-batch-reader.js';
import { openParquet, type ColumnChunk, type ParquetReadOptions } from '../codecs/columnar-files.js';
import { FloatArrays } from '../codecs/row-major-layout.js';
import { checkHeader, dataframeRows, sliceTable, splitCarried, type DataframeRequest } from './dataframe-rows.js';
import { fileIdentity, partName, type InputSource, type PartInput, type SourceOptions } from './input-source.js';

/** `arrays`: where the block's row-major arrays go back once each of its parts here has run. */
function* partsOfBlock(
  chunk: ColumnChunk, path: string, fileIndex: number, block: number, firstRow: number,
  options: SourceOptions, toRequest: DataframeRequest, idColumn: string | undefined, arrays?: FloatArrays,
): Generator<PartInput> {
  const { table, carried } = splitCarried(chunk, idColumn);
  checkHeader(table, toRequest, path);
  const parts = Array.from({ length: Math.ceil(chunk.rows / options.partRows) }, (_, part) => part).filter((part) => !options.committed(partName(fileIndex, block, part)));
  let running = parts.length;
  const release = () => {
    if (--running === 0 && chunk.rowMajor) arrays?.give(chunk.rowMajor.map((b) => b.data));
  };
  for (const part of parts) {
    const start = part * options.partRows;
    const end = Math.min(chunk.rows, start + options.partRows);
    const ids = Array.from({ length: end - start }, (_, i) => String(firstRow + start + i));
    const partCarried = carried && new Map([...carried].map(([k, v]) => [k, v.slice(start, end)]));
    yield {
      name: partName(fileIndex, block, part),
      range: { source: path, block, firstRow: firstRow + start, rows: end - start },
      // Typed columns and row-major blocks are viewed, not copied (the block's chunk lives until its last part has run).
      rows: dataframeRows(sliceTable(table, start, end), ids, toRequest),
      carried: partCarried,
      release,
    };
  }
}

/**
 * `reading`: the bound on one block, read whole (`--max-message-bytes`): an Arrow message, a Parquet row
 * group; and the column lists a Parquet row group decodes row-major (ParquetReadOptions.rowMajor; the
 * carried id column is never one of them, as over CSV). Arrow IPC batches come column by column.
 */
export function columnarSource(path: string, format: 'parquet' | 'arrow', fileIndex: number, toRequest: DataframeRequest, idColumn: string | undefined, reading: ArrowReadOptions & ParquetReadOptions = {}): InputSource {
  return {
    path,
    format,
    async estimateRows() {
      if (format === 'parquet') return (await openParquet(path)).rowGroupRows.reduce((a, b) => a + b, 0);
      const { size } = await stat(path);
      return Math.round(size / 1024); // unknown until read: a guess only used for progress
    },
    identity: () => fileIdentity(path),
    async *parts(options: SourceOptions): AsyncGenerator<PartInput> {
      if (format === 'parquet') {
        const rowMajor = reading.rowMajor?.filter((spec) => idColumn === undefined || !spec.names.includes(idColumn));
        // A row group's row-major arrays are reused by a later one (three in turn: the group running, the
        // one read ahead, and the one whose last part is still running).
        const arrays = new FloatArrays();
        const file = await openParquet(path, { ...reading, rowMajor, arrays });
        const owned = Array.from({ length: file.rowGroups }, (_, g) => g).filter((group) => options.owns(fileIndex, group));
        // Every row group the shard owns is held to the bound from the footer before any is read (and
        // before its rows count parts below): a file this job cannot read is refused before its first row runs.
        for (const group of owned) file.checkBound(group);
        const groups = owned.filter((group) => {
          for (let p = 0; p * options.partRows < file.rowGroupRows[group]!; p++) if (!options.committed(partName(fileIndex, group, p))) return true;
          return false;
        });
        // One row group read ahead: decoding a group takes longer than running the part or two in
        // flight, so reading it only when its first part is asked for left the instances idle at
        // every group boundary. Memory: two decoded groups at most.
        const read = (i: number) => {
          const pending = i < groups.length ? file.read(groups[i]!) : undefined;
          pending?.catch(() => undefined); // awaited below (or in finally, when the consumer stops early)
          return pending;
        };
        let next = read(0);
        try {
          for (let i = 0; i < groups.length; i++) {
            const chunk = await next!;
            next = read(i + 1);
            yield* partsOfBlock(chunk, path, fileIndex, groups[i]!, file.firstRows[groups[i]!]!, options, toRequest, idColumn, arrays);
          }
        } finally {
          await next?.catch(() => undefined);
        }
        return;
      }
      let block = 0;
      let firstRow = 0;
      for await (const batch of readArrowBatches(path, reading)) {
        if (options.owns(fileIndex, block)) yield* partsOfBlock(batch, path, fileIndex, block, firstRow, options, toRequest, idColumn);
        block++;
        firstRow += batch.rows;
      }
    },
  };
}
