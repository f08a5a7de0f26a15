/**
 * Counts the BYTES elements of an encoded ModelInferRequest without decoding it: protobufjs makes
 * an object per `bytes_contents` element, so a 30 MB message of one-byte elements would cost
 * gigabytes before any check could run. The scan walks the wire format once (a varint and a skip
 * per field, no allocation) along ModelInferRequest.inputs (5) → InferInputTensor.contents (5) →
 * InferTensorContents.bytes_contents (8) and refuses the message against the BYTES bounds.
 *
 * It only counts: a message it cannot walk is left to the decoder, which reports it.
 */
import { bytesLimits, checkBytesElements, checkBytesTotal } from '../../core/bytes-limits.js';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const INPUTS_FIELD = 5;
const CONTENTS_FIELD = 5;
const BYTES_CONTENTS_FIELD = 8;

export class Cursor {
  pos: number;
  constructor(readonly buf: Uint8Array, start: number, readonly end: number) {
    this.pos = start;
  }

  /** A varint as a number (lengths and tags fit in 2^53); -1 when the message is truncated or too long. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) return -1;
      const byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    return -1;
  }

  /** Skips a field's value; false when the wire type is unknown or the value runs past the end. */
  skip(wireType: number): boolean {
    switch (wireType) {
      case WIRE_VARINT: return this.varint() >= 0;
      case WIRE_I64: this.pos += 8; break;
      case WIRE_I32: this.pos += 4; break;
      case WIRE_LEN: {
        const length = this.varint();
        if (length < 0) return false;
        this.pos += length;
        break;
      }
      default: return false;
    }
    return this.pos <= this.end;
  }

  /** The bounds of a length-delimited value, leaving the cursor after it; undefined when malformed. */
  sub(): [number, number] | undefined {
    const length = this.varint();
    if (length < 0 || this.pos + length > this.end) return undefined;
    const start = this.pos;
    this.pos += length;
    return [start, this.pos];
  }
}

interface Totals { elements: number; bytes: number }

/** Visits each length-delimited field `field` of the message in [start, end); stops at malformed data. */
export function forEachSubmessage(buf: Uint8Array, start: number, end: number, field: number, visit: (start: number, end: number) => void): void {
  const cursor = new Cursor(buf, start, end);
  while (cursor.pos < end) {
    const tag = cursor.varint();
    if (tag < 0) return;
    const wireType = tag % 8;
    if (Math.floor(tag / 8) === field && wireType === WIRE_LEN) {
      const range = cursor.sub();
      if (!range) return;
      visit(range[0], range[1]);
    } else if (!cursor.skip(wireType)) {
      return;
    }
  }
}

/** BYTES elements (and their bytes) sent as typed contents in an encoded ModelInferRequest. */
export function countTypedBytes(message: Uint8Array): Totals {
  const totals: Totals = { elements: 0, bytes: 0 };
  forEachSubmessage(message, 0, message.byteLength, INPUTS_FIELD, (inputStart, inputEnd) => {
    forEachSubmessage(message, inputStart, inputEnd, CONTENTS_FIELD, (contentsStart, contentsEnd) => {
      forEachSubmessage(message, contentsStart, contentsEnd, BYTES_CONTENTS_FIELD, (elementStart, elementEnd) => {
        totals.elements++;
        totals.bytes += elementEnd - elementStart;
      });
    });
  });
  return totals;
}

/** Throws VIREO_ERR_REQUEST_TOO_LARGE when the message's typed BYTES exceed the bounds. */
export function checkInferMessage(message: Uint8Array): void {
  // A message too short to break either bound needs no scan (an element takes at least 2 bytes).
  const limits = bytesLimits();
  if (message.byteLength < 2 * limits.maxElements && message.byteLength <= limits.maxTotalBytes) return;
  const { elements, bytes } = countTypedBytes(message);
  checkBytesElements(elements, 'the request');
  checkBytesTotal(bytes, 'the request');
}
