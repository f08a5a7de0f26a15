/**
 * Arrow IPC files and streams for batch jobs, one record batch at a time, each message checked
 * (arrow-ipc-check.ts) before apache-arrow decodes it. Columns come out as columnar-files.ts's
 * ColumnChunk: value arrays, the shape dataframe-codec.ts's Table takes.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { RecordBatchReader, DataType, Precision, type RecordBatch } from 'apache-arrow';
import { Footer } from 'apache-arrow/ipc/metadata/file';
import { Message } from 'apache-arrow/ipc/metadata/message';
import { MessageHeader } from 'apache-arrow/fb/message-header';
import { VireoError } from '../core/errors.js';
import { ArrowIpcInvalid, checkBlock, checkFooter, checkMessage } from './arrow-ipc-check.js';
import { arrowCells } from './arrow-list-columns.js';
import type { ColumnChunk } from './columnar-files.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './read-bounds.js';

export interface ArrowReadOptions {
  /**
   * Bytes one message may take (its prefix, metadata and body, as a file's footer block counts them),
   * and a file's footer: checked against what the bytes already read declare, before the rest is
   * allocated. Default DEFAULT_MAX_MESSAGE_BYTES.
   */
  maxMessageBytes?: number;
}

/**
 * The bound on one message, and the names a refusal gives messages: each kind counted from 0 in the
 * order read (`record batch 2`), and, for a stream, the message's position in it.
 */
class MessageBound {
  readonly #seen = new Map<MessageHeader, number>();
  constructor(readonly path: string, readonly max: number) {}

  /** `record batch 2`, `dictionary batch 0`, `the schema`: the next message of `type`. */
  name(type: MessageHeader): string {
    const index = this.#seen.get(type) ?? 0;
    this.#seen.set(type, index + 1);
    if (type === MessageHeader.RecordBatch) return `record batch ${index}`;
    if (type === MessageHeader.DictionaryBatch) return `dictionary batch ${index}`;
    return type === MessageHeader.Schema ? 'the schema' : `a ${MessageHeader[type] ?? 'message'} message`;
  }

  /** Throws unless `bytes` (what `what` declares, made of `parts`) fit the bound. */
  check(what: string, bytes: number, parts: string): void {
    if (bytes <= this.max) return;
    // A VireoError of its own, not ArrowIpcInvalid: the file may well be valid, only larger than allowed.
    throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${this.path}: ${what} declares ${bytes} bytes (${parts}), more than the ${this.max} bytes one Arrow message may take, read whole (raise --max-message-bytes)`);
  }
}

/**
 * An Arrow record batch as a ColumnChunk: numeric columns without nulls as their typed
 * arrays (half floats aside: their typed array holds raw bits), lists of numbers as ListColumns
 * (arrow-list-columns.ts), every other column as JS values.
 */
function chunkOf(data: RecordBatch): ColumnChunk {
  const columns = new Map<string, unknown[]>();
  for (const field of data.schema.fields) {
    const vector = data.getChild(field.name);
    if (!vector) continue;
    const typed = (DataType.isInt(field.type) || (DataType.isFloat(field.type) && field.type.precision !== Precision.HALF)) && vector.nullCount === 0;
    const values = typed ? vector.toArray() as unknown as unknown[] : arrowCells(vector, field.name);
    // A value per row (apache-arrow does not check a buffer against its column's length: a short one gave fewer).
    if (values.length !== data.numRows) throw new ArrowIpcInvalid(`column "${field.name}" holds ${values.length} values in a record batch of ${data.numRows} rows`);
    columns.set(field.name, values);
  }
  return { columns, rows: data.numRows };
}

/** The first bytes of an Arrow IPC file, and its last: "ARROW1". */
const ARROW_MAGIC = Buffer.from('ARROW1');
const CONTINUATION = 0xffffffff;
const END_OF_STREAM = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0);

const corruptArrow = (path: string, error: unknown): never => {
  if (error instanceof VireoError) throw error;
  // The file system's failure has a code (EIO, EACCES); anything else is the bytes: refused by the checks,
  // or apache-arrow's own stumble on bytes that passed them (a TypeError deep in its decoding).
  const why = typeof (error as NodeJS.ErrnoException).code === 'string' ? 'cannot be read' : 'not a valid Arrow IPC file or stream, or corrupt';
  throw new VireoError('VIREO_ERR_BATCH_INPUT_INVALID', `${path}: ${why} (${(error as Error).message ?? String(error)})`);
};

/** Bytes asked of one read call: one of 2 GiB or more aborts node 20 (an assertion in node_file.cc, not an error). */
const READ_CHUNK = 1024 ** 3;

/** `length` bytes of the file at `position`; fewer only where the file ends. */
async function readAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  for (let done = 0; done < length;) {
    const { bytesRead } = await handle.read(bytes, done, Math.min(READ_CHUNK, length - done), position + done);
    if (bytesRead === 0) return bytes.subarray(0, done);
    done += bytesRead;
  }
  return bytes;
}

/** A continuation marker and `length`: the prefix of a message whose metadata is `length` bytes. */
function prefixOf(length: number): Uint8Array {
  const prefix = new Uint8Array(8);
  const view = new DataView(prefix.buffer);
  view.setUint32(0, CONTINUATION, true);
  view.setUint32(4, length, true);
  return prefix;
}

/**
 * A stream's messages from its first byte, each read whole and checked before it is passed on
 * (arrow-ipc-check.ts's checkMessage: what checkArrowIpc does to a request body, one message at a
 * time), up to its end-of-stream marker or its end. Each length is checked before what it declares is
 * allocated: against the bytes the file has left (beyond them: corrupt), then against the bound.
 */
async function* streamMessages(handle: FileHandle, size: number, bound: MessageBound): AsyncGenerator<Uint8Array> {
  for (let at = 0, position = 0; at + 4 <= size; position++) {
    const head = await readAt(handle, at, Math.min(8, size - at));
    const view = new DataView(head.buffer, head.byteOffset, head.length);
    let length = view.getUint32(0, true);
    let metadataAt = at + 4;
    if (length === CONTINUATION) {
      if (head.length < 8) throw new ArrowIpcInvalid('a message cut after its continuation marker');
      length = view.getUint32(4, true);
      metadataAt += 4;
    }
    if (length === 0) break;
    if (length > size - metadataAt) throw new ArrowIpcInvalid(`message metadata of ${length} bytes where ${size - metadataAt} remain`);
    const prefix = metadataAt - at;
    bound.check(`message ${position}`, prefix + length, `metadata ${prefix + length} before its body`);
    const metadata = await readAt(handle, metadataAt, length);
    // checkMessage refuses a body beyond the file's end (corrupt); the bound, one within it that is too large.
    const { body, type } = checkMessage(metadata, size - metadataAt - length);
    bound.check(`${bound.name(type)} (message ${position})`, prefix + length + body, `metadata ${prefix + length} + body ${body}`);
    yield prefixOf(length);
    yield metadata;
    if (body > 0) yield await readAt(handle, metadataAt + length, body);
    at = metadataAt + length + body;
  }
}

/**
 * A file's messages as a stream: its schema (from the footer, where apache-arrow's own writer puts it
 * alone), then the message of each footer block, dictionaries first, each read whole and checked
 * (arrow-ipc-check.ts's checkFooter and checkBlock, what checkArrowIpc does to a whole file). The
 * footer's length, then every block's, are checked against the file (checkFooter) and the bound before
 * the first block is read: a file too large for the bound is refused before any of its rows runs.
 */
async function* fileMessages(handle: FileHandle, size: number, bound: MessageBound): AsyncGenerator<Uint8Array> {
  // ARROW1, padding, messages …, the footer, its length, ARROW1.
  const tail = size < 18 ? new Uint8Array(10) : await readAt(handle, size - 10, 10);
  if (!ARROW_MAGIC.equals(tail.subarray(4))) throw new ArrowIpcInvalid('it starts as an Arrow IPC file but does not end as one (cut short?)');
  const footerLength = new DataView(tail.buffer).getInt32(0, true);
  const footerStart = size - 10 - footerLength;
  if (footerLength <= 0 || footerStart < 8) throw new ArrowIpcInvalid(`a footer of ${footerLength} bytes in a file of ${size}`);
  bound.check('the footer', footerLength, 'its metadata');
  const footer = await readAt(handle, footerStart, footerLength);
  const blocks = checkFooter(footer, footerStart);
  for (const block of blocks) bound.check(bound.name(block.type), block.metadataLength + block.bodyLength, `metadata ${block.metadataLength} + body ${block.bodyLength}`);
  const schema = Message.encode(Message.from(Footer.decode(footer).schema));
  const padded = (schema.length + 8 + 7) & ~7;
  yield prefixOf(padded - 8);
  yield schema;
  yield new Uint8Array(padded - 8 - schema.length);
  for (const block of blocks) {
    const bytes = await readAt(handle, block.offset, block.metadataLength + block.bodyLength);
    yield bytes.subarray(0, checkBlock(bytes, block));
  }
}

/**
 * Record batches of an Arrow IPC file or stream, one at a time. apache-arrow decodes only messages
 * checked first, as the server checks a request body (arrow-ipc-check.ts): its reader trusts their
 * counts and offsets, and a flipped byte made it build billions of objects or, through a footer
 * block, read one block forever. The check of a whole body needs the whole body; here each message is
 * read, checked and passed on by itself (the footer first for a file), so memory is one message, and
 * apache-arrow reads them as one stream (its file reader would have read a file whole before
 * decoding its footer: it cannot seek in the stream it is given). One message is held to
 * `maxMessageBytes` from the lengths it declares, before it is allocated, so a hostile or corrupt
 * length costs nothing and a legitimate batch too large for the machine is refused by name.
 */
export async function* readArrowBatches(path: string, options: ArrowReadOptions = {}): AsyncGenerator<ColumnChunk> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    return corruptArrow(path, error);
  }
  try {
    const size = (await handle.stat()).size;
    const head = await readAt(handle, 0, Math.min(size, 6));
    const bound = new MessageBound(path, options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    const messages = ARROW_MAGIC.equals(head) ? fileMessages(handle, size, bound) : streamMessages(handle, size, bound);
    const reader = await RecordBatchReader.from((async function* () {
      yield* messages;
      yield END_OF_STREAM;
    })());
    await reader.open();
    for (let next = await reader.next(); !next.done; next = await reader.next()) yield chunkOf(next.value);
  } catch (error) {
    corruptArrow(path, error);
  } finally {
    await handle.close();
  }
}
