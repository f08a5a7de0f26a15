/**
 * Arrow IPC bytes checked before apache-arrow decodes them. Its reader trusts the flatbuffer metadata:
 * a RecordBatch whose `buffers` vector claims 1.8 billion entries (one flipped byte of a 488-byte
 * body) made it build 1.8 billion JS objects — minutes of work, then the process out of heap. Here
 * every message of a stream (or of a file's footer) is walked without building anything, and refused
 * unless:
 * - each length prefix, message and body lies within the bytes;
 * - every vector of the metadata fits in the metadata (its length × the smallest element's size),
 *   so no count can exceed what the bytes could hold;
 * - every buffer of a record batch lies within its message's body;
 * - nested fields are at most MAX_FIELD_DEPTH deep and number at most what the metadata can hold.
 * Hand-written because apache-arrow has no validating reader; the flatbuffer accessors are its own
 * generated classes.
 */
import { ByteBuffer } from 'flatbuffers';
import { DictionaryBatch } from 'apache-arrow/fb/dictionary-batch';
import { Field } from 'apache-arrow/fb/field';
import { Footer } from 'apache-arrow/fb/footer';
import { Message } from 'apache-arrow/fb/message';
import { MessageHeader } from 'apache-arrow/fb/message-header';
import { RecordBatch } from 'apache-arrow/fb/record-batch';
import { Schema } from 'apache-arrow/fb/schema';

/** Why the bytes were refused; the caller answers it as a client error. */
export class ArrowIpcInvalid extends Error {}

const MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]; // "ARROW1"
const CONTINUATION = 0xffffffff;
/** Nested types (lists of structs of …) deeper than this are refused. */
const MAX_FIELD_DEPTH = 64;
/** Bytes of the smallest element of each vector kind: a table offset, a FieldNode or Buffer struct, a long, a Block struct. */
const OFFSET = 4;
const STRUCT16 = 16;
const LONG = 8;
const BLOCK = 24;

const invalid = (why: string): never => {
  throw new ArrowIpcInvalid(why);
};

function fits(count: number, size: number, room: number, what: string): void {
  if (count * size > room) invalid(`${what}: ${count} entries cannot fit in ${room} bytes of metadata`);
}

function checkFields(field: (i: number) => Field | null, count: number, room: number, depth: number, budget: { fields: number }): void {
  fits(count, OFFSET, room, 'schema fields');
  if (depth > MAX_FIELD_DEPTH) invalid(`fields nested more than ${MAX_FIELD_DEPTH} deep`);
  for (let i = 0; i < count; i++) {
    // Every field is a table of at least a few bytes: more fields than offsets fit means a cycle.
    if (--budget.fields < 0) invalid('more schema fields than the metadata can hold');
    const f = field(i);
    if (!f) continue;
    fits(f.customMetadataLength(), OFFSET, room, 'field metadata');
    checkFields((j) => f.children(j), f.childrenLength(), room, depth + 1, budget);
  }
}

function checkRecordBatch(batch: RecordBatch | null, bodyLength: bigint, room: number): void {
  if (!batch) return invalid('a record batch message without its header');
  fits(batch.nodesLength(), STRUCT16, room, 'field nodes');
  fits(batch.buffersLength(), STRUCT16, room, 'buffers');
  fits(batch.variadicBufferCountsLength(), LONG, room, 'variadic buffer counts');
  if (batch.length() < 0n) invalid('a negative row count');
  let longest = -1n;
  for (let i = 0; i < batch.nodesLength(); i++) {
    const node = batch.nodes(i);
    if (node && (node.length() < 0n || node.nullCount() < 0n)) invalid('a field node with a negative length');
    if (node && node.length() > longest) longest = node.length();
  }
  // Each column is as long as its batch (its top-level node's length): a batch claiming more rows than
  // any of its nodes had apache-arrow pad every column to that many rows of nulls (one flipped byte: 77
  // trillion rows, which `vireo batch` went on to read until it ran out of heap).
  if (batch.nodesLength() > 0 && batch.length() > longest) invalid(`a record batch of ${batch.length()} rows whose columns hold ${longest} at most`);
  for (let i = 0; i < batch.buffersLength(); i++) {
    const buffer = batch.buffers(i);
    if (buffer && (buffer.offset() < 0n || buffer.length() < 0n || buffer.offset() + buffer.length() > bodyLength)) {
      invalid(`buffer ${i} (${buffer.offset()} + ${buffer.length()} bytes) lies outside its body of ${bodyLength} bytes`);
    }
  }
}

/**
 * The message whose metadata is `metadata`, its body `available` bytes at most. Returns the body's
 * length and the header's type. Exported for readers of a stream too large to hold (columnar-files.ts):
 * a stream's messages are checked one at a time, as checkArrowIpc checks them in a whole body.
 */
export function checkMessage(metadata: Uint8Array, available: number): { body: number; type: MessageHeader } {
  let message: Message;
  try {
    message = Message.getRootAsMessage(new ByteBuffer(metadata));
  } catch (error) {
    return invalid(`unreadable message metadata (${(error as Error).message})`);
  }
  const bodyLength = message.bodyLength();
  if (bodyLength < 0n || bodyLength > BigInt(available)) invalid(`a message body of ${bodyLength} bytes where ${available} remain`);
  fits(message.customMetadataLength(), OFFSET, metadata.length, 'message metadata');
  const room = metadata.length;
  switch (message.headerType()) {
    case MessageHeader.Schema: {
      const schema = message.header(new Schema()) as Schema | null;
      if (!schema) return invalid('a schema message without its header');
      fits(schema.customMetadataLength(), OFFSET, room, 'schema metadata');
      fits(schema.featuresLength(), LONG, room, 'schema features');
      checkFields((i) => schema.fields(i), schema.fieldsLength(), room, 0, { fields: Math.floor(room / OFFSET) });
      break;
    }
    case MessageHeader.RecordBatch:
      checkRecordBatch(message.header(new RecordBatch()) as RecordBatch | null, bodyLength, room);
      break;
    case MessageHeader.DictionaryBatch: {
      const dictionary = message.header(new DictionaryBatch()) as DictionaryBatch | null;
      checkRecordBatch(dictionary?.data() ?? null, bodyLength, room);
      break;
    }
    default:
      break; // Tensors and the like: apache-arrow refuses them itself, without allocating per entry.
  }
  return { body: Number(bodyLength), type: message.headerType() };
}

/**
 * The encapsulated message at `at` (continuation marker, length, metadata, body). Returns where the
 * next one starts (-1 at the end-of-stream marker) and the message's type.
 */
function checkEncapsulated(bytes: Uint8Array, view: DataView, at: number): { next: number; type?: MessageHeader } {
  if (at + 4 > bytes.length) return { next: -1 }; // a stream may end without its end-of-stream marker
  let length = view.getUint32(at, true);
  let start = at + 4;
  if (length === CONTINUATION) {
    if (start + 4 > bytes.length) invalid('a message cut after its continuation marker');
    length = view.getUint32(start, true);
    start += 4;
  }
  if (length === 0) return { next: -1 };
  if (length > bytes.length - start) invalid(`message metadata of ${length} bytes where ${bytes.length - start} remain`);
  const { body, type } = checkMessage(bytes.subarray(start, start + length), bytes.length - start - length);
  return { next: start + length + body, type };
}

/** Where one message of an Arrow IPC file lies (a footer block), and the type it must hold. */
export interface FileBlock { offset: number; metadataLength: number; bodyLength: number; type: MessageHeader }

/**
 * The blocks of a file's footer (`footer`: its bytes), dictionaries first, then record batches, each
 * within the file's messages (from byte 8 up to `messagesEnd`, where the footer starts). Throws
 * ArrowIpcInvalid unless the footer's counts fit its bytes and its schema's fields are in bounds.
 */
export function checkFooter(bytes: Uint8Array, messagesEnd: number): FileBlock[] {
  const room = bytes.length;
  let footer: Footer;
  try {
    footer = Footer.getRootAsFooter(new ByteBuffer(bytes));
  } catch (error) {
    return invalid(`unreadable footer (${(error as Error).message})`);
  }
  fits(footer.recordBatchesLength(), BLOCK, room, 'record batch blocks');
  fits(footer.dictionariesLength(), BLOCK, room, 'dictionary blocks');
  fits(footer.customMetadataLength(), OFFSET, room, 'file metadata');
  const schema = footer.schema();
  if (schema) checkFields((i) => schema.fields(i), schema.fieldsLength(), room, 0, { fields: Math.floor(room / OFFSET) });
  const blocks = [
    ...Array.from({ length: footer.dictionariesLength() }, (_, i) => ({ block: footer.dictionaries(i), type: MessageHeader.DictionaryBatch })),
    ...Array.from({ length: footer.recordBatchesLength() }, (_, i) => ({ block: footer.recordBatches(i), type: MessageHeader.RecordBatch })),
  ];
  return blocks.map(({ block, type }) => {
    if (!block) return invalid('a footer block that cannot be read');
    const offset = block.offset();
    const end = offset + BigInt(block.metaDataLength()) + block.bodyLength();
    if (offset < 8n || block.metaDataLength() < 0 || block.bodyLength() < 0n || end > BigInt(messagesEnd)) {
      invalid(`a block at ${offset} of ${block.metaDataLength()} + ${block.bodyLength()} bytes outside the file's messages`);
    }
    return { offset: Number(offset), metadataLength: block.metaDataLength(), bodyLength: Number(block.bodyLength()), type };
  });
}

/**
 * The message of `block`, whose bytes are `bytes` (the block's metadataLength + bodyLength bytes of the
 * file): throws ArrowIpcInvalid unless it is checked as a stream's message is and holds the type the
 * footer says. (apache-arrow's file reader moves to the next record batch block only when the message
 * there is a record batch: a block naming a schema, or nothing, made it read that block forever.)
 * Returns the length of the message (prefix, metadata and body) at the start of `bytes`.
 */
export function checkBlock(bytes: Uint8Array, block: FileBlock): number {
  const { next, type } = checkEncapsulated(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
  if (type !== block.type) invalid(`the footer's ${MessageHeader[block.type]} block at ${block.offset} holds ${type === undefined ? 'no message' : `a ${MessageHeader[type]} message`}`);
  return next;
}

function checkFile(bytes: Uint8Array, view: DataView): void {
  // ARROW1, padding, the stream's messages …, the footer, its length, ARROW1.
  const footerLength = view.getInt32(bytes.length - 10, true);
  const footerStart = bytes.length - 10 - footerLength;
  if (footerLength <= 0 || footerStart < 8) invalid(`a footer of ${footerLength} bytes in a file of ${bytes.length}`);
  for (const block of checkFooter(bytes.subarray(footerStart, footerStart + footerLength), footerStart)) {
    checkBlock(bytes.subarray(block.offset, block.offset + block.metadataLength + block.bodyLength), block);
  }
}

/** Throws ArrowIpcInvalid unless `bytes` (an Arrow IPC stream or file) can be decoded without trusting a count. */
export function checkArrowIpc(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isFile = bytes.length >= 18 && MAGIC.every((b, i) => bytes[i] === b && bytes[bytes.length - 6 + i] === b);
  if (isFile) return checkFile(bytes, view);
  // A stream: messages one after another, up to the end-of-stream marker or the end of the bytes.
  for (let at = 0; at >= 0 && at < bytes.length;) at = checkEncapsulated(bytes, view, at).next;
}
