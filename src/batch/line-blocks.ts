/**
 * Line-oriented files (JSONL, CSV) split into blocks of bytes, as Hadoop and Spark split text files:
 * block k holds the lines that START in [k × blockBytes, (k + 1) × blockBytes), so any reader (any
 * shard) can read any block without the others, and a line belongs to exactly one block. A CSV whose
 * quoted fields contain newlines cannot be split this way (Spark's multiLine=false has the same rule);
 * such files must fit one block (`--block-size`).
 *
 * Reading streams the block in chunks: memory is a chunk plus one line, whatever the file size.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { VireoError } from '../core/errors.js';

const NEWLINE = 0x0a;
const READ_CHUNK = 1 << 20;
/** Most lines yielded together (see readBlockLineRuns). */
const RUN_LINES = 1024;
/**
 * Longest line read (bytes): a line is held whole in memory, and a string cannot pass 2²⁹ characters,
 * so a file without newlines stops with this error instead of growing until it crashes. The same
 * bound as one image of an image folder (`vireo batch --max-file-bytes`).
 */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/** A line past the bound: which line (1-based) and the bound, for callers that report it their own way. */
export class LineTooLong extends VireoError {
  constructor(path: string, readonly line: number, readonly maxLineBytes: number) {
    super('VIREO_ERR_BATCH_INPUT_INVALID', `${path}: line ${line} is longer than ${maxLineBytes} bytes, the most one row may read (--max-file-bytes)`);
  }
}

export function blockCount(fileBytes: number, blockBytes: number): number {
  return Math.max(1, Math.ceil(fileBytes / blockBytes));
}

export interface Line {
  /** 0-based line number in the file. */
  number: number;
  text: string;
  /** Its bytes are not UTF-8 (`markInvalid` only): `text` shows each bad sequence as U+FFFD. */
  invalid?: true;
}

/** A line as its bytes (a view of the read chunk where it fits in one), without its line ending. */
export interface ByteLine {
  /** 0-based line number in the file. */
  number: number;
  bytes: Buffer;
}

const CARRIAGE_RETURN = 0x0d;

const strictDecoder = new TextDecoder('utf-8', { fatal: true });
const lenientDecoder = new TextDecoder('utf-8');

/**
 * The lines starting in [start, end) of a file, `firstLineNumber` being the number of the first of
 * them (see LineCounter). A final line without newline is a line; `\r\n` ends a line too.
 */
export async function* readBlockLines(path: string, start: number, end: number, firstLineNumber: number, options: LineReadOptions = {}): AsyncGenerator<Line> {
  for await (const lines of readBlockLineRuns(path, start, end, firstLineNumber, options)) yield* lines;
}

/**
 * readBlockLines, the lines of each read chunk (1 MiB) yielded together, RUN_LINES at most: a reader of
 * many short lines (a CSV row per line) pays an async step per run instead of per line.
 */
export function readBlockLineRuns(path: string, start: number, end: number, firstLineNumber: number, options: LineReadOptions = {}): AsyncGenerator<Line[]> {
  const make = options.markInvalid ? decodeLine : (number: number, bytes: Buffer): Line => ({ number, text: strictDecoder.decode(bytes) });
  return readLines(path, start, end, firstLineNumber, make, undefined, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
}

/** A line's bytes as text, or marked `invalid` when they are not UTF-8 (a bad row, not a failed read). */
export function decodeLine(number: number, bytes: Buffer): Line {
  try {
    return { number, text: strictDecoder.decode(bytes) };
  } catch {
    return { number, text: lenientDecoder.decode(bytes), invalid: true };
  }
}

const ASCII_WHITESPACE = new Set([9, 11, 12, 13, 32]);

/**
 * Whether a line is blank, as `text.trim() === ''` of its decoded text (bytes that are not UTF-8 are
 * U+FFFD, not blank), decoding only a line with a byte beyond ASCII before its first other character.
 * The readers skip such lines; LineCounter counts them by the same rule.
 */
export function isBlankBytes(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte > 127) return lenientDecoder.decode(bytes).trim() === '';
    if (!ASCII_WHITESPACE.has(byte)) return false;
  }
  return true;
}

/**
 * `buffers`: see ReadBuffers (byte lines only); `maxLineBytes`: see DEFAULT_MAX_LINE_BYTES;
 * `markInvalid` (text lines): a line that is not UTF-8 is yielded `invalid` instead of throwing TypeError.
 */
export interface LineReadOptions {
  buffers?: ReadBuffers;
  maxLineBytes?: number;
  markInvalid?: boolean;
}

/**
 * The buffers a byte reader reads into, reused: a consumer that is done with every line read so far
 * (it parsed them into numbers or decoded them into strings) says so with `releaseRead`, and the
 * buffers those lines were views of are read into again. Without it, every read takes a new megabyte,
 * which V8 counts as external memory: a numeric CSV then costs a full garbage collection every few
 * megabytes read, on the thread that parses.
 */
export class ReadBuffers {
  readonly #free: Buffer[] = [];
  readonly #inUse: Buffer[] = [];

  /** A buffer to read the next chunk into (the reader's; see releaseRead). */
  take(): Buffer {
    const buffer = this.#free.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK);
    this.#inUse.push(buffer);
    return buffer;
  }

  /**
   * Every line a reader using these buffers has yielded so far is no longer used: all but the buffer
   * it is reading from (which holds its next lines) may be read into again. Call it only while the
   * reader waits at a yield (between two lines), never with a line's bytes still to be used.
   */
  releaseRead(): void {
    while (this.#inUse.length > 1) this.#free.push(this.#inUse.shift()!);
  }
}

/**
 * readBlockLines without decoding: each line's bytes. Decoding them (UTF-8, fatal, one call per line)
 * gives readBlockLines' text; a reader that needs no string per line (numeric CSV) saves that. A
 * line's bytes are a view of the read buffer where the line lies in one read (else a copy): with
 * `buffers`, valid until `buffers.releaseRead()`.
 */
export async function* readBlockLineBytes(path: string, start: number, end: number, firstLineNumber: number, options: LineReadOptions = {}): AsyncGenerator<ByteLine> {
  for await (const lines of readBlockByteLineRuns(path, start, end, firstLineNumber, options)) yield* lines;
}

/** readBlockLineBytes, the lines of each read chunk yielded together (see readBlockLineRuns). */
export function readBlockByteLineRuns(path: string, start: number, end: number, firstLineNumber: number, options: LineReadOptions = {}): AsyncGenerator<ByteLine[]> {
  return readLines(path, start, end, firstLineNumber, (number, bytes) => ({ number, bytes }), options.buffers, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
}

/**
 * The lines of [start, end), each its bytes without the line ending made into a T by `make`: the
 * lines that end in each read chunk, together (RUN_LINES at most; never an empty run).
 */
async function* readLines<T>(path: string, start: number, end: number, firstLineNumber: number, make: (number: number, bytes: Buffer) => T, buffers: ReadBuffers | undefined, maxLineBytes: number): AsyncGenerator<T[]> {
  // Start one byte early: if that byte is a newline, a line starts exactly at `start`.
  const from = start === 0 ? 0 : start - 1;
  let skipping = start !== 0;
  let position = from;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineStart = start;
  const hold = (part: Buffer) => {
    pendingBytes += part.length;
    if (pendingBytes > maxLineBytes) throw new LineTooLong(path, number + 1, maxLineBytes);
    pending.push(part);
  };
  let number = firstLineNumber;
  const line = (parts: Buffer[]): T => {
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    return make(number++, bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.subarray(0, -1) : bytes);
  };
  const file = await open(path, 'r');
  try {
    for (;;) {
      const buffer = buffers ? buffers.take() : Buffer.allocUnsafeSlow(READ_CHUNK);
      const { bytesRead } = await file.read(buffer, 0, READ_CHUNK, position);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      let offset = 0;
      let run: T[] = [];
      try {
        while (offset < chunk.length) {
          const newline = chunk.indexOf(NEWLINE, offset);
          if (skipping) {
            if (newline < 0) {
              offset = chunk.length;
              continue;
            }
            skipping = false;
            offset = newline + 1;
            lineStart = position + offset;
            if (lineStart >= end) return;
            continue;
          }
          if (newline < 0) {
            hold(chunk.subarray(offset));
            offset = chunk.length;
            continue;
          }
          hold(chunk.subarray(offset, newline));
          run.push(line(pending));
          // A chunk of very short lines (1 MiB of "1\n") would otherwise be half a million line objects at once.
          if (run.length === RUN_LINES) {
            yield run;
            run = [];
          }
          pending = [];
          pendingBytes = 0;
          offset = newline + 1;
          lineStart = position + offset;
          if (lineStart >= end) break;
        }
      } catch (error) {
        // A line refused (longer than the bound) or not made (strict decoding, not UTF-8): the lines
        // before it are handed over first, as one by one they would have been.
        if (run.length > 0) yield run;
        throw error;
      }
      if (run.length > 0) yield run;
      if (lineStart >= end) return;
      position += chunk.length;
    }
    if (!skipping && pending.length > 0 && pending.some((p) => p.length > 0)) yield [line(pending)];
  } finally {
    await file.close();
  }
}

/** Where a block starts: the number of its first line, and how many blank lines come before it. */
export interface BlockStart {
  line: number;
  blank: number;
}

const CONTENT = 0;
const LEADING = 1;
const DECODING = 2;

/**
 * The number of the first line of each block, and of the blank lines (isBlankBytes) before it, counted
 * once per file: blocks are asked for in increasing order, so counting is one pass over the bytes a
 * shard skips (a newline search, plus a look at the first bytes of each line; no parsing).
 */
export class LineCounter {
  readonly #path: string;
  readonly #blockBytes: number;
  /** Block index → where it starts. */
  readonly #known = new Map<number, BlockStart>([[0, { line: 0, blank: 0 }]]);
  #last = 0;

  constructor(path: string, blockBytes: number) {
    this.#path = path;
    this.#blockBytes = blockBytes;
  }

  async firstLine(block: number): Promise<number> {
    return (await this.start(block)).line;
  }

  async start(block: number): Promise<BlockStart> {
    const cached = this.#known.get(block);
    if (cached !== undefined) return cached;
    // Blocks come in increasing order: the last one learnt is usually the nearest below.
    let from = this.#last < block ? this.#last : 0;
    if (from === 0) for (const k of this.#known.keys()) if (k < block && k > from) from = k;
    const known = this.#known.get(from)!;
    const counted = await this.#count(from * this.#blockBytes, block * this.#blockBytes);
    const start = { line: known.line + counted.lines, blank: known.blank + counted.blank };
    this.learn(block, start.line, start.blank);
    return start;
  }

  /**
   * Lines starting in [from, end) and how many of them are blank. From byte from − 1: a newline there
   * starts a line at `from` (at 0, line 0 starts with no newline before it). A blank line is told from
   * its bytes up to its newline, which may lie past `end`: reading goes on until it is decided.
   */
  async #count(from: number, end: number): Promise<{ lines: number; blank: number }> {
    let lines = from === 0 ? 1 : 0;
    let blank = 0;
    let state = from === 0 ? LEADING : CONTENT;
    let decoder: InstanceType<typeof TextDecoder> | undefined;
    let position = Math.max(0, from - 1);
    scan: for await (const chunk of createReadStream(this.#path, { start: position, highWaterMark: READ_CHUNK }) as AsyncIterable<Buffer>) {
      let i = 0;
      while (i < chunk.length) {
        if (state === CONTENT) {
          const newline = chunk.indexOf(NEWLINE, i);
          if (newline < 0 || position + newline + 1 >= end) {
            if (newline >= 0 || position + chunk.length >= end) break scan;
            break;
          }
          lines++;
          state = LEADING;
          i = newline + 1;
        } else if (state === LEADING) {
          const byte = chunk[i]!;
          if (byte === NEWLINE) {
            blank++;
            state = CONTENT;
          } else if (byte > 127) {
            state = DECODING;
            decoder = new TextDecoder('utf-8');
          } else if (ASCII_WHITESPACE.has(byte)) {
            i++;
          } else {
            state = CONTENT;
          }
        } else {
          // A byte beyond ASCII before anything else: the line's text decides, as isBlankBytes does.
          const newline = chunk.indexOf(NEWLINE, i);
          const text = decoder!.decode(chunk.subarray(i, newline < 0 ? chunk.length : newline), { stream: newline < 0 });
          if (text.trim() !== '' || newline >= 0) {
            if (text.trim() === '') blank++;
            state = CONTENT;
          }
          i = newline < 0 ? chunk.length : newline;
        }
      }
      position += chunk.length;
    }
    // The file ended inside a line that was blank so far.
    if (state === LEADING || (state === DECODING && decoder!.decode().trim() === '')) blank++;
    return { lines, blank };
  }

  /** Records what a reader learnt by reading a whole block (saves the next count). */
  learn(block: number, firstLine: number, blank = 0): void {
    this.#known.set(block, { line: firstLine, blank });
    if (block > this.#last) this.#last = block;
  }
}
