/**
 * Walking an encoded protobuf message without decoding it (a varint and a skip per field, no
 * allocation): what infer-message-shape.ts needs to bound a ModelInferRequest before protobufjs makes
 * an object per input and a value per element (a 30 MB message of one-byte BYTES elements would cost
 * gigabytes). A message the walk cannot follow is left to the decoder, which reports it.
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

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
