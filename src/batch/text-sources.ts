/**
 * JSONL and CSV inputs, read by byte blocks (line-blocks.ts) and cut into parts of `partRows` lines.
 * JSONL: one request per line (jsonl-rows.ts), id = custom_id or the 1-based line number. CSV: a
 * header line, then one row per line, parsed by csv-parse exactly as the REST path's options parse a
 * CSV body (BOM, trimmed cells, empty lines skipped); the row's position (0-based, after the header,
 * blank lines not counted, as csv-parse and pandas count rows) is its id. A line whose bytes are not
 * UTF-8 is a failed row; a header that is not is a refusal.
 */
import { stat } from 'node:fs/promises';
import { parse as parseCsvText } from 'csv-parse/sync';
import { VireoError } from '../core/errors.js';
import { checkHeader, dataframeRows, splitCarried, type DataframeRequest } from './dataframe-rows.js';
import { partName, type InputSource, type PartInput, type SourceOptions } from './input-source.js';
import { mapSliced, type TimeSlicer } from './time-slicer.js';
import { parseNumericBytes, parseNumericLine, type LineTarget } from './csv-numbers.js';
import { jsonlRows, parseJsonlLine, type JsonlModel, type ParsedLine } from './jsonl-rows.js';
import type { PartRange } from './part-store.js';
import { blockCount, decodeLine, isBlankBytes, LineCounter, ReadBuffers, readBlockLineBytes, readBlockLines, type ByteLine, type Line, type LineReadOptions } from './line-blocks.js';

export interface TextSourceOptions {
  path: string;
  fileIndex: number;
  blockBytes: number;
  /** Longest line (bytes; default line-blocks.ts DEFAULT_MAX_LINE_BYTES): a longer one stops the job with its line number. */
  maxLineBytes?: number;
}

async function fileIdentity(path: string): Promise<unknown> {
  const info = await stat(path);
  return { path, bytes: info.size, mtimeMs: Math.trunc(info.mtimeMs) };
}

/** Lines in the file, estimated from the first 256 KiB (progress only; bytes, never decoded). */
async function estimateLines(path: string): Promise<number> {
  const { size } = await stat(path);
  let lines = 0;
  let bytes = 0;
  for await (const line of readBlockLineBytes(path, 0, Math.min(size, 256 * 1024), 0)) {
    lines++;
    bytes += line.bytes.length + 1;
  }
  return lines === 0 ? 0 : Math.round((size / bytes) * lines);
}

type BlockReader<L> = (path: string, start: number, end: number, firstLineNumber: number, options: LineReadOptions) => AsyncGenerator<L>;

/**
 * Lines of the owned blocks (as `read` gives them), grouped `partRows` at a time: [block, part index,
 * lines], blank lines (and the header line 0, with `header`) skipped. `firstRow` is the part's first
 * line number (parts are keyed by lines); `position` the number of rows (lines not skipped) before it
 * in the file, so its k-th line is row `position + k` whichever shard reads it (LineCounter counts the
 * blank lines of the blocks a shard skips). With `buffers`, a part's lines are valid until the
 * consumer asks for the next part (the read buffers are reused from then on): it must be done with
 * them by then.
 */
async function* lineParts<L extends { number: number }>(source: TextSourceOptions, options: SourceOptions, read: BlockReader<L>, header: boolean, isBlank: (line: L) => boolean, buffers?: ReadBuffers, markInvalid = false): AsyncGenerator<{ block: number; part: number; firstRow: number; position: number; lines: L[] }> {
  const { size } = await stat(source.path);
  const blocks = blockCount(size, source.blockBytes);
  const counter = new LineCounter(source.path, source.blockBytes);
  for (let block = 0; block < blocks; block++) {
    if (!options.owns(source.fileIndex, block)) continue;
    const { line: first, blank } = await counter.start(block);
    // Line 0, the header, starts in block 0: every later block has it before.
    let position = first - blank - (header && first > 0 ? 1 : 0);
    let part = 0;
    let lines: L[] = [];
    let seen = 0;
    let blanks = 0;
    const start = block * source.blockBytes;
    for await (const line of read(source.path, start, Math.min(size, start + source.blockBytes), first, { buffers, maxLineBytes: source.maxLineBytes, markInvalid })) {
      seen++;
      if (header && line.number === 0) continue;
      if (isBlank(line)) {
        blanks++;
        continue;
      }
      lines.push(line);
      if (lines.length === options.partRows) {
        yield { block, part, firstRow: lines[0]!.number, position, lines };
        buffers?.releaseRead();
        position += lines.length;
        part++;
        lines = [];
      }
    }
    if (lines.length > 0) {
      yield { block, part, firstRow: lines[0]!.number, position, lines };
      buffers?.releaseRead();
    }
    counter.learn(block + 1, first + seen, blank + blanks);
  }
}

/** A part of a JSONL file as parsed lines (before they become rows): what `/v1/batches` reads. */
export interface JsonlPart {
  name: string;
  range: PartRange;
  lines: ParsedLine[];
}

/**
 * The parts of a JSONL file not yet committed, each line parsed (jsonl-rows.ts); empty lines are
 * skipped, a line that is not UTF-8 is a failed row. With a slicer, parsing pauses for waiting I/O
 * (time-slicer.ts).
 */
export async function* jsonlParts(source: TextSourceOptions, model: JsonlModel, options: SourceOptions, slicer?: TimeSlicer): AsyncGenerator<JsonlPart> {
  for await (const { block, part, firstRow, lines } of lineParts(source, options, readBlockLines, false, (l) => l.text.trim() === '', undefined, true)) {
    const name = partName(source.fileIndex, block, part);
    if (options.committed(name)) continue;
    yield { name, range: { source: source.path, block, firstRow, rows: lines.length }, lines: await mapSliced(lines, (l) => parseTextLine(l, model), slicer) };
  }
}

function parseTextLine(line: Line, model: JsonlModel): ParsedLine {
  if (!line.invalid) return parseJsonlLine(line.text, line.number + 1, model);
  return { id: String(line.number + 1), line: line.number + 1, error: new VireoError('VIREO_ERR_REQUEST_MALFORMED', `line ${line.number + 1} is not valid UTF-8`) };
}

export function jsonlSource(source: TextSourceOptions, model: JsonlModel, batchSize: number): InputSource {
  return {
    path: source.path,
    format: 'jsonl',
    estimateRows: () => estimateLines(source.path),
    identity: () => fileIdentity(source.path),
    async *parts(options: SourceOptions): AsyncGenerator<PartInput> {
      for await (const { name, range, lines } of jsonlParts(source, model, options)) yield { name, range, rows: jsonlRows(lines, model, batchSize) };
    },
  };
}

const CSV_OPTIONS = { bom: true, trim: true, skip_empty_lines: true } as const;

/**
 * A part's lines as columns. Lines without a quote character are split on commas and trimmed, which
 * is what csv-parse makes of them with the REST path's options (and several times faster); a part
 * with any quote goes through csv-parse whole. A short row leaves its last cells missing, so that row
 * fails with "value is missing", as over REST.
 */
function parseCsvTextLines(lines: readonly Line[], header: readonly string[], path: string, firstRow: number, numeric: ReadonlySet<string>, newColumn: NewColumn): { columns: Map<string, unknown[]>; failed: Map<number, VireoError> } {
  const columns = header.map(() => new Array<unknown>(lines.length));
  const failed = new Map<number, VireoError>();
  // Text path only (the byte fast path never gets here): a line that is not UTF-8 fails alone.
  for (let r = 0; r < lines.length; r++) if (lines[r]!.invalid) failed.set(r, new VireoError('VIREO_ERR_INPUT_DATA', `line ${lines[r]!.number + 1} is not valid UTF-8`));
  const tooLong = (r: number, cells: number) => failed.set(r, new VireoError('VIREO_ERR_INPUT_DATA', `line ${lines[r]!.number + 1} has ${cells} cells, the header has ${header.length}`));
  const quoted = lines.some((l) => l.text.includes('"'));
  const typed = quoted ? undefined : typedColumns(lines, header, numeric, (line, r, target) => parseNumericLine(line.text, r, target), newColumn);
  if (typed) return { columns: new Map(header.map((h, c) => [h, typed[c]!])), failed };
  if (!quoted) {
    lines.forEach((line, r) => {
      const cells = line.text.split(',');
      if (cells.length > header.length) tooLong(r, cells.length);
      const n = Math.min(cells.length, header.length);
      for (let c = 0; c < n; c++) columns[c]![r] = cells[c]!.trim();
    });
  } else {
    let records: string[][];
    try {
      records = parseCsvText(lines.map((l) => l.text).join('\n'), { ...CSV_OPTIONS, relax_column_count: true }) as string[][];
    } catch (error) {
      throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${path}: lines ${firstRow + 1}–${firstRow + lines.length} cannot be parsed as CSV: ${(error as Error).message}`);
    }
    if (records.length !== lines.length) throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${path}: lines ${firstRow + 1}–${firstRow + lines.length} hold ${records.length} CSV records (a quoted field holds a line break, which vireo batch does not read: it splits files at line breaks, as Spark's CSV reader does without multiLine)`);
    records.forEach((record, r) => {
      if (record.length > header.length) tooLong(r, record.length);
      record.forEach((cell, c) => { if (c < header.length) columns[c]![r] = cell; });
    });
  }
  return { columns: new Map(header.map((h, c) => [h, columns[c]!])), failed };
}

/**
 * The fast path of a part without quotes: cells of `numeric` columns (those the model takes as
 * numbers) parsed into one Float64Array per column — the values cell() in the dataframe codec makes
 * of those strings with `Number`, without a string per cell (csv-numbers.ts) — the others trimmed
 * as strings. undefined, and the string path decides, when any row is not
 * clean: a cell count other than the header's, or a numeric cell that is empty or not a finite
 * number (the string path gives those rows the REST path's errors).
 */
function typedColumns<L>(lines: readonly L[], header: readonly string[], numeric: ReadonlySet<string>, parse: (line: L, row: number, target: LineTarget) => boolean, newColumn: NewColumn): unknown[][] | undefined {
  const isNumeric = header.map((h) => numeric.has(h));
  if (!isNumeric.includes(true)) return undefined;
  const columns = isNumeric.map((n) => (n ? newColumn(lines.length) : new Array<unknown>(lines.length)));
  const target = { columns, numeric: isNumeric };
  for (let r = 0; r < lines.length; r++) if (!parse(lines[r]!, r, target)) return undefined;
  return columns as unknown[][];
}

/**
 * A part's lines, read as bytes: the typed fast path straight from the bytes when every line is
 * clean, quote-free ASCII (parseNumericBytes); otherwise the lines are decoded (decodeLine: a line
 * that is not UTF-8 is marked, and fails alone) and take the text path, errors and all.
 */
function parseCsvLines(lines: readonly ByteLine[], header: readonly string[], path: string, firstRow: number, numeric: ReadonlySet<string>, newColumn: NewColumn): { columns: Map<string, unknown[]>; failed: Map<number, VireoError> } {
  const typed = typedColumns(lines, header, numeric, (line, r, target) => parseNumericBytes(line.bytes, r, target), newColumn);
  if (typed) return { columns: new Map(header.map((h, c) => [h, typed[c]!])), failed: new Map() };
  return parseCsvTextLines(lines.map((l) => decodeLine(l.number, l.bytes)), header, path, firstRow, numeric, newColumn);
}

/** A typed column of `rows` numbers to parse a part into. */
type NewColumn = (rows: number) => Float64Array;

/**
 * Typed columns reused from part to part: a part's columns are read into once the part before has
 * run (PartInput.release), not allocated per part — a megabyte per 512 rows of 256 columns that V8
 * counts as external memory, each few megabytes of which cost a full garbage collection.
 */
class ColumnBuffers {
  readonly #free: Float64Array[] = [];

  constructor(private readonly capacity: number) {}

  /** A column of `rows` (≤ capacity) numbers, recorded in `taken` to be given back. */
  take(rows: number, taken: Float64Array[]): Float64Array {
    const column = this.#free.pop() ?? new Float64Array(this.capacity);
    taken.push(column);
    return column.subarray(0, rows);
  }

  give(columns: readonly Float64Array[]): void {
    this.#free.push(...columns);
  }
}

const isByteLines = (lines: readonly (ByteLine | Line)[]): lines is ByteLine[] => lines.length > 0 && 'bytes' in lines[0]!;

/** `numeric`: the columns the model takes as numbers (parsed as such, see typedColumns). */
export function csvSource(source: TextSourceOptions, toRequest: DataframeRequest, idColumn: string | undefined, numeric: ReadonlySet<string> = new Set()): InputSource {
  // The carried id column stays text, whatever the model calls its inputs.
  const parsedAsNumbers = new Set([...numeric].filter((c) => c !== idColumn));
  let header: string[] | undefined;
  const readHeader = async (): Promise<string[]> => {
    for await (const line of readBlockLines(source.path, 0, 1, 0, { markInvalid: true })) {
      if (line.invalid) throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${source.path}: the CSV header (line 1) is not valid UTF-8`);
      const records = parseCsvText(line.text, CSV_OPTIONS) as string[][];
      if (records.length === 1) return records[0]!;
      break;
    }
    throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${source.path}: the first line must be the CSV header`);
  };
  return {
    path: source.path,
    format: 'csv',
    estimateRows: async () => Math.max(0, (await estimateLines(source.path)) - 1),
    identity: () => fileIdentity(source.path),
    async *parts(options: SourceOptions): AsyncGenerator<PartInput> {
      header ??= await readHeader();
      if (new Set(header).size !== header.length) throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${source.path}: a column name appears twice in the header`);
      let checked = false;
      // Reused read buffers and columns: a part's lines are parsed (copied out) before the next part
      // is read, and its columns are read into again once it has run.
      const columnBuffers = new ColumnBuffers(options.partRows);
      // Without a numeric column every cell becomes a string anyway: lines are decoded as read, so a
      // part's bytes and its strings (large text cells) are never held together.
      const partsOfLines = parsedAsNumbers.size > 0
        ? lineParts(source, options, readBlockLineBytes, true, (l) => isBlankBytes(l.bytes), new ReadBuffers())
        : lineParts(source, options, readBlockLines, true, (l) => l.text.trim() === '', undefined, true);
      for await (const { block, part, firstRow, position, lines } of partsOfLines) {
        const name = partName(source.fileIndex, block, part);
        if (options.committed(name)) continue;
        const taken: Float64Array[] = [];
        const newColumn = (rows: number) => columnBuffers.take(rows, taken);
        const { columns, failed } = isByteLines(lines)
          ? parseCsvLines(lines, header, source.path, firstRow, parsedAsNumbers, newColumn)
          : parseCsvTextLines(lines, header, source.path, firstRow, parsedAsNumbers, newColumn);
        const { table, carried } = splitCarried({ columns, rows: lines.length }, idColumn);
        if (!checked) checkHeader(table, toRequest, source.path);
        checked = true;
        const ids = lines.map((_, k) => String(position + k));
        yield { name, range: { source: source.path, block, firstRow, rows: lines.length }, rows: dataframeRows(table, ids, toRequest, failed), carried, release: () => columnBuffers.give(taken) };
      }
    },
  };
}
