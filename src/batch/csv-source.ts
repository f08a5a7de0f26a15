/**
 * CSV inputs: a header line, then one row per line (line-blocks.ts splits the file into blocks of
 * lines), parsed by csv-parse exactly as the REST path's options parse a CSV body (BOM, trimmed
 * cells, empty lines skipped); the row's position (0-based, after the header, blank lines not
 * counted, as csv-parse and pandas count rows) is its id. A line whose bytes are not UTF-8 is a
 * failed row; a header that is not is a refusal.
 *
 * The fast path (clean, quote-free lines) reads the cells of the columns the model takes as numbers
 * straight into typed arrays (csv-numbers.ts), and those that make up one FP32/FP64 input, in its
 * order, straight into that input's row-major layout (RowMajorColumns): the tensor is then a copy of
 * a slice, not a gather of one value per cell.
 */
import { parse as parseCsvText } from 'csv-parse/sync';
import type { RowMajorColumns } from '../codecs/dataframe-codec.js';
import { fittingSpecs, FloatArrays, placesIn, type RowMajorSpec } from '../codecs/row-major-layout.js';
import { VireoError } from '../core/errors.js';
import { parseNumericBytes, parseNumericLine, type LineTarget } from './csv-numbers.js';
import { checkHeader, dataframeRows, splitCarried, type DataframeRequest } from './dataframe-rows.js';
import { fileIdentity, partName, type InputSource, type PartInput, type SourceOptions } from './input-source.js';
import { decodeLine, isBlankBytes, ReadBuffers, readBlockByteLineRuns, readBlockLineRuns, readBlockLines, type ByteLine, type Line } from './line-blocks.js';
import { estimateLines, lineParts, type TextSourceOptions } from './text-sources.js';
import { TimeSlicer, type Slicer } from './time-slicer.js';

/** How the model takes the CSV's columns. */
export interface CsvColumns {
  /** The columns it takes as numbers (parsed as such, see typedTable). */
  numeric?: ReadonlySet<string>;
  /** Column lists that make one input each, in its order: read row-major when all are in the header. */
  rowMajor?: readonly RowMajorSpec[];
}

const CSV_OPTIONS = { bom: true, trim: true, skip_empty_lines: true } as const;

/**
 * A part's numbers are scanned in turns of this many milliseconds. A part (4,096 rows of 256 cells in
 * the batch benchmark) takes ≈ 30 ms of one core to scan, longer on a core shared with onnxruntime,
 * and meanwhile the loop cannot hand an instance that finished its batch the next one (each holds one
 * batch ahead, which a batch of a fast model outlasts only just). Scanned in one go, onnxruntime's two
 * threads slept 0.6–2.7 % of the steady state waiting for a batch; in turns, 0–0.5 % (three alternating
 * pairs of `tsx bench/batch-threads.ts --rows 100000 --hidden 2048 --checkout <the checkout before>`).
 */
const PARSE_SLICE_MS = 4;
/** The slicer's clock is read every SLICE_CHECK_ROWS + 1 rows (a power of two, minus one: a mask). */
const SLICE_CHECK_ROWS = 31;

/** Where a part's cells go, per header column: a number or a string, and its row-major block (−1: none) and place in it. */
interface PartLayout {
  header: readonly string[];
  numeric: boolean[];
  block: number[];
  offset: number[];
  blocks: RowMajorSpec[];
}

function partLayout(header: readonly string[], columns: CsvColumns): PartLayout {
  const numeric = new Set(columns.numeric ?? []);
  // A list is read row-major only when every one of its columns is a numeric column of the header.
  const blocks = fittingSpecs(header, columns.rowMajor, (n) => numeric.has(n));
  const places = placesIn(blocks);
  const block = header.map((h) => places.get(h)?.block ?? -1);
  const offset = header.map((h) => places.get(h)?.offset ?? 0);
  return { header, numeric: header.map((h) => numeric.has(h)), block, offset, blocks };
}

interface ParsedPart {
  columns: Map<string, unknown[]>;
  rowMajor?: RowMajorColumns[];
  failed: Map<number, VireoError>;
}

/** A typed array of `width` × `rows` numbers to parse a part into (reused: FloatArrays). */
type TakeArray = (float32: boolean, width: number, rows: number) => Float32Array | Float64Array;

/**
 * The fast path of a part without quotes: cells of numeric columns parsed into typed arrays — the
 * values cellValue() (dataframe-cells.ts) makes of those strings with `Number`, without a string per
 * cell (csv-numbers.ts) — in the part's layout; the others trimmed as strings. undefined, and the
 * string path decides, when any row is not clean: a cell count other than the header's, or a numeric
 * cell that is empty or not a finite number (the string path gives those rows the REST path's errors).
 */
async function typedTable<L>(lines: readonly L[], layout: PartLayout, parse: (line: L, row: number, target: LineTarget) => boolean, take: TakeArray, slicer: Slicer): Promise<Omit<ParsedPart, 'failed'> | undefined> {
  if (!layout.numeric.includes(true)) return undefined;
  const rows = lines.length;
  const { header, numeric, block, blocks, offset } = layout;
  const blockData = blocks.map((spec) => take(spec.float32, spec.names.length, rows));
  const columns = header.map((_, c) => (block[c]! >= 0 ? blockData[block[c]!]! : numeric[c] ? take(false, 1, rows) : new Array<unknown>(rows)));
  const stride = header.map((_, c) => (block[c]! >= 0 ? blocks[block[c]!]!.names.length : 1));
  const target: LineTarget = { columns, numeric, stride, offset };
  for (let r = 0; r < rows; r++) {
    // The slicer is asked every few rows: a clock read per row would cost more than the rows' own work between turns.
    if ((r & SLICE_CHECK_ROWS) === 0) {
      const pause = slicer.pause();
      if (pause) await pause;
    }
    if (!parse(lines[r]!, r, target)) return undefined;
  }
  return {
    columns: new Map(header.flatMap((name, c): [string, unknown[]][] => (block[c]! >= 0 ? [] : [[name, columns[c] as unknown[]]]))),
    rowMajor: blocks.map((spec, k) => ({ names: spec.names, data: blockData[k]! })),
  };
}

/**
 * A part's lines as columns. Lines without a quote character are split on commas and trimmed, which
 * is what csv-parse makes of them with the REST path's options (and several times faster); a part
 * with any quote goes through csv-parse whole. A short row leaves its last cells missing, so that row
 * fails with "value is missing", as over REST.
 */
async function parseCsvTextLines(lines: readonly Line[], layout: PartLayout, path: string, firstRow: number, take: TakeArray, slicer: Slicer): Promise<ParsedPart> {
  const { header } = layout;
  const failed = new Map<number, VireoError>();
  // Text path only (the byte fast path never gets here): a line that is not UTF-8 fails alone.
  for (let r = 0; r < lines.length; r++) if (lines[r]!.invalid) failed.set(r, new VireoError('VIREO_ERR_INPUT_DATA', `line ${lines[r]!.number + 1} is not valid UTF-8`));
  const tooLong = (r: number, cells: number) => failed.set(r, new VireoError('VIREO_ERR_INPUT_DATA', `line ${lines[r]!.number + 1} has ${cells} cells, the header has ${header.length}`));
  const quoted = lines.some((l) => l.text.includes('"'));
  const typed = quoted ? undefined : await typedTable(lines, layout, (line, r, target) => parseNumericLine(line.text, r, target), take, slicer);
  if (typed) return { ...typed, failed };
  const columns = header.map(() => new Array<unknown>(lines.length));
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
 * A part's lines, read as bytes: the typed fast path straight from the bytes when every line is
 * clean, quote-free ASCII (parseNumericBytes); otherwise the lines are decoded (decodeLine: a line
 * that is not UTF-8 is marked, and fails alone) and take the text path, errors and all.
 */
async function parseCsvLines(lines: readonly ByteLine[], layout: PartLayout, path: string, firstRow: number, take: TakeArray, slicer: Slicer): Promise<ParsedPart> {
  const typed = await typedTable(lines, layout, (line, r, target) => parseNumericBytes(line.bytes, r, target), take, slicer);
  if (typed) return { ...typed, failed: new Map() };
  return parseCsvTextLines(lines.map((l) => decodeLine(l.number, l.bytes)), layout, path, firstRow, take, slicer);
}

const isByteLines = (lines: readonly (ByteLine | Line)[]): lines is ByteLine[] => lines.length > 0 && 'bytes' in lines[0]!;

/** `slicer`: the turns a part's numbers are scanned in (by default PARSE_SLICE_MS long; tests count them). */
export function csvSource(source: TextSourceOptions, toRequest: DataframeRequest, idColumn: string | undefined, layoutOf: CsvColumns = {}, slicer: Slicer = new TimeSlicer(PARSE_SLICE_MS)): InputSource {
  // The carried id column stays text, whatever the model calls its inputs.
  const columns: CsvColumns = { ...layoutOf, numeric: new Set([...(layoutOf.numeric ?? [])].filter((c) => c !== idColumn)) };
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
      const layout = partLayout(header, columns);
      let checked = false;
      // Reused read buffers and typed arrays: a part's lines are parsed (copied out) before the next
      // part is read, and its arrays are read into again once it has run.
      const arrays = new FloatArrays();
      // Without a numeric column every cell becomes a string anyway: lines are decoded as read, so a
      // part's bytes and its strings (large text cells) are never held together.
      const partsOfLines = layout.numeric.includes(true)
        ? lineParts(source, options, readBlockByteLineRuns, true, (l) => isBlankBytes(l.bytes), new ReadBuffers())
        : lineParts(source, options, readBlockLineRuns, true, (l) => l.text.trim() === '', undefined, true);
      for await (const { block, part, firstRow, position, lines } of partsOfLines) {
        const name = partName(source.fileIndex, block, part);
        if (options.committed(name)) continue;
        const taken: (Float32Array | Float64Array)[] = [];
        // Arrays of a whole part's size, whatever this part's rows, so that every part reuses them.
        const take: TakeArray = (float32, width, rows) => {
          const array = arrays.take(float32, width * options.partRows);
          taken.push(array);
          return array.subarray(0, width * rows);
        };
        const parsed = isByteLines(lines) ? await parseCsvLines(lines, layout, source.path, firstRow, take, slicer) : await parseCsvTextLines(lines, layout, source.path, firstRow, take, slicer);
        const { table, carried } = splitCarried({ columns: parsed.columns, rowMajor: parsed.rowMajor, rows: lines.length }, idColumn);
        if (!checked) checkHeader(table, toRequest, source.path);
        checked = true;
        const ids = lines.map((_, k) => String(position + k));
        yield { name, range: { source: source.path, block, firstRow, rows: lines.length }, rows: dataframeRows(table, ids, toRequest, parsed.failed), carried, release: () => arrays.give(taken) };
      }
    },
  };
}
