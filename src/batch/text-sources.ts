/**
 * Line-oriented inputs (JSONL here, CSV in csv-source.ts), read by byte blocks (line-blocks.ts) and
 * cut into parts of `partRows` lines. JSONL: one request per line (jsonl-rows.ts), id = custom_id or
 * the 1-based line number. A line whose bytes are not UTF-8 is a failed row.
 */
import { stat } from 'node:fs/promises';
import { VireoError } from '../core/errors.js';
import { fileIdentity, partName, type InputSource, type PartInput, type SourceOptions } from './input-source.js';
import { mapSliced, type TimeSlicer } from './time-slicer.js';
import { jsonlRows, parseJsonlLine, type JsonlModel, type ParsedLine } from './jsonl-rows.js';
import type { PartRange } from './part-store.js';
import { blockCount, LineCounter, readBlockLineBytes, readBlockLineRuns, type Line, type LineReadOptions, type ReadBuffers } from './line-blocks.js';

export interface TextSourceOptions {
  path: string;
  fileIndex: number;
  blockBytes: number;
  /** Longest line (bytes; default line-blocks.ts DEFAULT_MAX_LINE_BYTES): a longer one stops the job with its line number. */
  maxLineBytes?: number;
}

/** Lines in the file, estimated from the first 256 KiB (progress only; bytes, never decoded). */
export async function estimateLines(path: string): Promise<number> {
  const { size } = await stat(path);
  let lines = 0;
  let bytes = 0;
  for await (const line of readBlockLineBytes(path, 0, Math.min(size, 256 * 1024), 0)) {
    lines++;
    bytes += line.bytes.length + 1;
  }
  return lines === 0 ? 0 : Math.round((size / bytes) * lines);
}

/** Reads a block's lines, a run (the lines of one read chunk) at a time. */
export type BlockReader<L> = (path: string, start: number, end: number, firstLineNumber: number, options: LineReadOptions) => AsyncGenerator<L[]>;

/**
 * Lines of the owned blocks (as `read` gives them), grouped `partRows` at a time: [block, part index,
 * lines], blank lines (and the header line 0, with `header`) skipped. `firstRow` is the part's first
 * line number (parts are keyed by lines); `position` the number of rows (lines not skipped) before it
 * in the file, so its k-th line is row `position + k` whichever shard reads it (LineCounter counts the
 * blank lines of the blocks a shard skips). With `buffers`, a part's lines are valid until the
 * consumer asks for the next part (the read buffers are reused from then on): it must be done with
 * them by then.
 */
export async function* lineParts<L extends { number: number }>(source: TextSourceOptions, options: SourceOptions, read: BlockReader<L>, header: boolean, isBlank: (line: L) => boolean, buffers?: ReadBuffers, markInvalid = false): AsyncGenerator<{ block: number; part: number; firstRow: number; position: number; lines: L[] }> {
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
    for await (const run of read(source.path, start, Math.min(size, start + source.blockBytes), first, { buffers, maxLineBytes: source.maxLineBytes, markInvalid })) {
      for (const line of run) {
        seen++;
        if (header && line.number === 0) continue;
        if (isBlank(line)) {
          blanks++;
          continue;
        }
        lines.push(line);
        if (lines.length === options.partRows) {
          yield { block, part, firstRow: lines[0]!.number, position, lines };
          // The rest of the run lies in the buffer being read from, which stays in use.
          buffers?.releaseRead();
          position += lines.length;
          part++;
          lines = [];
        }
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
  for await (const { block, part, firstRow, lines } of lineParts(source, options, readBlockLineRuns, false, (l) => l.text.trim() === '', undefined, true)) {
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
