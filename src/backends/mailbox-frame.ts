/**
 * How one call or one answer is laid out in the SharedMailbox: what every call carries (ids, output
 * names, tensor names, datatypes, shapes) in fixed binary fields, JSON only for what is rare and
 * open-ended (a batch's context, an error). The frame used to be all JSON: stringifying and parsing
 * the headers, with an object spread and rest per side, made both sides of `simple`'s call cost
 * 24.7 µs on this machine, more than onnxruntime's own run; this frame costs 4.3 µs (`tsx
 * bench/mailbox-frame.ts --checkout <a checkout before it>` times both side by side).
 *
 * Layout from `base` (little-endian):
 *   f64 id · f64 executeMs (NaN: absent) · i32 slot (−1: absent) · u32 JSON bytes (0: none) ·
 *   u16 output names · u16 tensors · u32 where the data starts, from `base`          (32 bytes)
 *   each output name: u16 bytes, UTF-8
 *   each tensor: u16 name bytes, UTF-8 name, u8 datatype (index in DATATYPES), u8 rank,
 *                u32 data bytes, f64 × rank dims
 *   the JSON, then each tensor's data at the next multiple of 8
 * Anything a field cannot hold (BYTES data, 65,536 names, rank 256, a value JSON cannot carry)
 * makes `write` answer false, and the call takes the MessagePort: the frame is a fast path, never a limit.
 */
import { DATATYPES, dataTypeInfo, type DataType, type NumericArray } from '../core/datatypes.js';
import type { Tensor } from '../core/tensor.js';

export interface Frame {
  id: number;
  slot?: number;
  executeMs?: number;
  /** Requested output names (calls); empty in answers. */
  outputs: readonly string[];
  /** The call's ExecuteContext, or the answer's error. */
  json?: unknown;
  tensors: readonly Tensor[];
}

/** A frame as read: its arrays are the reader's own. */
export type ReadFrame = Frame & { outputs: string[]; tensors: Tensor[] };

const HEADER_BYTES = 32;
/**
 * Copies out of the mailbox up to this size are placed in Buffer's shared 8 KiB pool: a copy of
 * 1 KiB into a fresh ArrayBuffer cost 3.3 µs here, into a pool slice 1.3 µs (`tsx
 * bench/mailbox-frame.ts`); copies of at most 64 bytes live in V8's heap and cost nothing extra. A pool slice
 * never owns its whole buffer, so it is never moved through a port (worker-protocol.ts, transferList).
 */
const POOLED_BELOW = Buffer.poolSize >>> 1;
const IN_HEAP_BYTES = 64;
const MAX_COUNT = 0xffff;
const MAX_RANK = 0xff;
const CODES = new Map<DataType, number>(DATATYPES.map((datatype, code) => [datatype, code]));
const align8 = (n: number) => (n + 7) & ~7;

export class FrameCodec {
  readonly #view: DataView;
  readonly #bytes: Buffer;
  readonly #buffer: SharedArrayBuffer;
  /** One view of the whole buffer per datatype, so data is copied by `set` without touching its ArrayBuffer. */
  readonly #typedViews = new Map<DataType, NumericArray>();

  constructor(buffer: SharedArrayBuffer) {
    this.#buffer = buffer;
    this.#view = new DataView(buffer);
    this.#bytes = Buffer.from(buffer);
  }

  /** Writes `frame` into [base, end); false (the region's content then undefined) when it does not fit there. */
  write(base: number, end: number, frame: Frame): boolean {
    const view = this.#view;
    const { outputs, tensors } = frame;
    if (outputs.length > MAX_COUNT || tensors.length > MAX_COUNT) return false;
    let at = base + HEADER_BYTES;
    for (const name of outputs) {
      at = this.#writeString(at, end, name);
      if (at < 0) return false;
    }
    let dataBytes = 0;
    for (const t of tensors) {
      const code = CODES.get(t.datatype);
      if (code === undefined || Array.isArray(t.data) || t.shape.length > MAX_RANK) return false;
      at = this.#writeString(at, end, t.name);
      if (at < 0 || at + 6 + 8 * t.shape.length > end) return false;
      view.setUint8(at, code);
      view.setUint8(at + 1, t.shape.length);
      view.setUint32(at + 2, t.data.byteLength, true);
      at += 6;
      for (const dim of t.shape) {
        view.setFloat64(at, dim, true);
        at += 8;
      }
      dataBytes += align8(t.data.byteLength);
    }
    let jsonBytes = 0;
    if (frame.json !== undefined) {
      let json: string | undefined;
      try {
        json = JSON.stringify(frame.json);
      } catch {
        return false; // e.g. a BigInt parameter: structured clone carries it, JSON cannot
      }
      if (json === undefined || at + Buffer.byteLength(json) > end) return false;
      jsonBytes = this.#bytes.write(json, at, 'utf8');
      at += jsonBytes;
    }
    let dataAt = align8(at);
    if (dataAt + dataBytes > end) return false;
    for (const t of tensors) {
      const data = t.data as NumericArray;
      this.#copyIn(t.datatype, data, dataAt);
      dataAt += align8(data.byteLength);
    }
    view.setFloat64(base, frame.id, true);
    view.setFloat64(base + 8, frame.executeMs ?? Number.NaN, true);
    view.setInt32(base + 16, frame.slot ?? -1, true);
    view.setUint32(base + 20, jsonBytes, true);
    view.setUint16(base + 24, outputs.length, true);
    view.setUint16(base + 26, tensors.length, true);
    view.setUint32(base + 28, align8(at) - base, true);
    return true;
  }

  /** Reads the frame at `base`; tensor data is copied out, since the mailbox is reused by the next call. */
  read(base: number): ReadFrame {
    const view = this.#view;
    const id = view.getFloat64(base, true);
    const executeMs = view.getFloat64(base + 8, true);
    const slot = view.getInt32(base + 16, true);
    const jsonBytes = view.getUint32(base + 20, true);
    const outputCount = view.getUint16(base + 24, true);
    const tensorCount = view.getUint16(base + 26, true);
    let at = base + HEADER_BYTES;
    const outputs: string[] = [];
    for (let i = 0; i < outputCount; i++) {
      const bytes = view.getUint16(at, true);
      outputs.push(this.#bytes.toString('utf8', at + 2, at + 2 + bytes));
      at += 2 + bytes;
    }
    // The data's start is in the header, so each tensor is copied out as its header is read.
    let dataAt = base + view.getUint32(base + 28, true);
    const tensors: Tensor[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const nameBytes = view.getUint16(at, true);
      const name = this.#bytes.toString('utf8', at + 2, at + 2 + nameBytes);
      at += 2 + nameBytes;
      const datatype = DATATYPES[view.getUint8(at)]!;
      const rank = view.getUint8(at + 1);
      const byteLength = view.getUint32(at + 2, true);
      at += 6;
      const shape: number[] = [];
      for (let d = 0; d < rank; d++, at += 8) shape.push(view.getFloat64(at, true));
      tensors.push({ name, datatype, shape, data: this.#copyOut(datatype, dataAt, byteLength) });
      dataAt += align8(byteLength);
    }
    const json = jsonBytes > 0 ? JSON.parse(this.#bytes.toString('utf8', at, at + jsonBytes)) as unknown : undefined;
    const frame: ReadFrame = { id, outputs, tensors };
    if (slot >= 0) frame.slot = slot;
    if (!Number.isNaN(executeMs)) frame.executeMs = executeMs;
    if (json !== undefined) frame.json = json;
    return frame;
  }

  /** `at` is a multiple of 8, so every datatype's view can start there. */
  #copyIn(datatype: DataType, data: NumericArray, at: number): void {
    const view = this.#typedView(datatype);
    if (data.constructor === view.constructor) {
      (view as Uint8Array).set(data as Uint8Array, at / view.BYTES_PER_ELEMENT);
    } else {
      this.#bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    }
  }

  #copyOut(datatype: DataType, at: number, byteLength: number): NumericArray {
    const { array, size } = dataTypeInfo(datatype);
    const count = byteLength / size;
    const slice = byteLength > IN_HEAP_BYTES && byteLength < POOLED_BELOW ? Buffer.allocUnsafe(byteLength) : undefined;
    // Buffer's pool hands out 8-aligned slices; the check keeps a change there from becoming a RangeError.
    const data = slice && slice.byteOffset % size === 0 ? new array!(slice.buffer, slice.byteOffset, count) : new array!(count);
    (data as Uint8Array).set(this.#typedView(datatype).subarray(at / size, at / size + count) as Uint8Array);
    return data;
  }

  #typedView(datatype: DataType): NumericArray {
    let view = this.#typedViews.get(datatype);
    if (!view) {
      const { array, size } = dataTypeInfo(datatype);
      view = new array!(this.#buffer, 0, Math.floor(this.#buffer.byteLength / size));
      this.#typedViews.set(datatype, view);
    }
    return view;
  }

  /** Writes a length-prefixed UTF-8 string; the offset after it, or −1 when it does not fit. */
  #writeString(at: number, end: number, text: string): number {
    // At most 3 bytes per UTF-16 unit: the exact length is only counted when that bound is too loose.
    const room = end - at - 2;
    if (3 * text.length > room && Buffer.byteLength(text) > Math.min(room, MAX_COUNT)) return -1;
    const written = this.#bytes.write(text, at + 2, 'utf8');
    if (written > MAX_COUNT) return -1;
    this.#view.setUint16(at, written, true);
    return at + 2 + written;
  }
}
