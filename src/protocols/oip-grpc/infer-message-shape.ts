/**
 * The request limits (core/request-limits.ts) checked on an encoded ModelInferRequest before
 * protobufjs decodes it: how many inputs (field 5) and outputs (field 6) it names, and how many
 * bytes its typed numeric contents will take as tensors. protobufjs makes objects per input and per
 * output and a JS value per typed element (an int64 one as a string), and a one-byte varint becomes
 * an 8-byte INT64 element, so a 64 MiB message could otherwise cost gigabytes before any check ran.
 *
 * The walk reads tags and lengths only (no allocation). An element's size is taken as the least
 * its field allows (int_contents may hold INT8), so the bound never refuses a valid request; the
 * decoder checks the exact size from the shape afterwards. A message the walk cannot follow is
 * left to the decoder, which reports it.
 */
import { checkInputCount, checkOutputCount, checkRequestTensorBytes, checkTensorBytes, requestLimits } from '../../core/request-limits.js';
import { Cursor, forEachSubmessage, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT } from './infer-message-scan.js';

const INPUTS_FIELD = 5;
const OUTPUTS_FIELD = 6;
const CONTENTS_FIELD = 5;

/** InferTensorContents fields 1–7: the least bytes one element takes as a tensor, and whether it is a varint. */
const TYPED_FIELDS: Record<number, { size: number; varint: boolean }> = {
  1: { size: 1, varint: true }, // bool_contents: BOOL
  2: { size: 1, varint: true }, // int_contents: INT8 … INT32
  3: { size: 8, varint: true }, // int64_contents
  4: { size: 1, varint: true }, // uint_contents: UINT8 … UINT32
  5: { size: 8, varint: true }, // uint64_contents
  6: { size: 4, varint: false }, // fp32_contents
  7: { size: 8, varint: false }, // fp64_contents
};

/** The fewest tensor bytes the typed numeric contents in [start, end) become. */
function typedContentsBytes(buf: Uint8Array, start: number, end: number): number {
  const cursor = new Cursor(buf, start, end);
  let bytes = 0;
  while (cursor.pos < end) {
    const tag = cursor.varint();
    if (tag < 0) return bytes;
    const wireType = tag % 8;
    const field = TYPED_FIELDS[Math.floor(tag / 8)];
    if (field && wireType === WIRE_LEN) {
      // Packed: a varint ends at each byte below 0x80; fixed-size values are counted by length.
      const range = cursor.sub();
      if (!range) return bytes;
      let elements = 0;
      if (field.varint) {
        for (let i = range[0]; i < range[1]; i++) if (buf[i]! < 0x80) elements++;
      } else {
        elements = Math.floor((range[1] - range[0]) / field.size);
      }
      bytes += elements * field.size;
    } else {
      if (field && (wireType === WIRE_VARINT || wireType === WIRE_I32 || wireType === WIRE_I64)) bytes += field.size;
      if (!cursor.skip(wireType)) return bytes;
    }
  }
  return bytes;
}

/** Throws VIREO_ERR_REQUEST_TOO_LARGE when the message names too many inputs or outputs, or its typed contents are too large. */
export function checkInferMessageShape(message: Uint8Array): void {
  const limits = requestLimits();
  // Each input or output takes at least 2 bytes, and a typed element at most 8 tensor bytes per
  // byte of message: a message too short to break any bound needs no walk.
  const fewestEntries = Math.min(limits.maxInputs, limits.maxOutputs);
  const fewestBytes = Math.min(limits.maxTensorBytes, limits.maxRequestTensorBytes);
  if (message.byteLength < 2 * fewestEntries && message.byteLength * 8 <= fewestBytes) return;
  let inputs = 0;
  let total = 0;
  forEachSubmessage(message, 0, message.byteLength, INPUTS_FIELD, (inputStart, inputEnd) => {
    checkInputCount(++inputs);
    let bytes = 0;
    forEachSubmessage(message, inputStart, inputEnd, CONTENTS_FIELD, (start, end) => {
      bytes += typedContentsBytes(message, start, end);
    });
    checkTensorBytes(bytes, `inputs[${inputs - 1}] (typed contents)`);
    total += bytes;
    checkRequestTensorBytes(total);
  });
  let outputs = 0;
  forEachSubmessage(message, 0, message.byteLength, OUTPUTS_FIELD, () => checkOutputCount(++outputs));
}
