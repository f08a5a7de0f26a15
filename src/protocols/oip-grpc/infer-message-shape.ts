/**
 * The request limits (core/request-limits.ts) and the BYTES bounds (core/bytes-limits.ts) checked on an
 * encoded ModelInferRequest before protobufjs decodes it, in one walk: how many inputs (field 5) and
 * outputs (field 6) it names, how many parameters it carries (map entries: its own, its inputs' and
 * its outputs', a repeated key counted each time), how many bytes its typed numeric contents will take
 * as tensors, and how many `bytes_contents` elements (and bytes) it carries. protobufjs makes objects per input and per
 * output and a JS value per typed element (an int64 one as a string), and a one-byte varint becomes
 * an 8-byte INT64 element, so a 64 MiB message could otherwise cost gigabytes before any check ran.
 *
 * The walk reads tags and lengths only (no allocation). An element's size is taken as the least
 * its field allows (int_contents may hold INT8), so the bound never refuses a valid request; the
 * decoder checks the exact size from the shape afterwards. A message the walk cannot follow is
 * left to the decoder, which reports it.
 */
import { bytesLimits, checkBytesElements, checkBytesTotal } from '../../core/bytes-limits.js';
import { checkInputCount, checkOutputCount, checkParameterCount, checkRequestTensorBytes, checkTensorBytes, requestLimits } from '../../core/request-limits.js';
import { Cursor, forEachSubmessage, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT } from './infer-message-scan.js';

const PARAMETERS_FIELD = 4;
const INPUTS_FIELD = 5;
const OUTPUTS_FIELD = 6;
/** `parameters` of InferInputTensor (4) and of InferRequestedOutputTensor (2): a map is repeated entries. */
const INPUT_PARAMETERS_FIELD = 4;
const OUTPUT_PARAMETERS_FIELD = 2;
const CONTENTS_FIELD = 5;
const BYTES_CONTENTS_FIELD = 8;

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

interface ContentsTotals {
  /** The fewest tensor bytes the typed numeric contents become. */
  tensorBytes: number;
  /** `bytes_contents` elements, and their bytes. */
  strings: number;
  stringBytes: number;
}

/** Adds the typed contents in [start, end) (an InferTensorContents) to `totals`. */
function addTypedContents(buf: Uint8Array, start: number, end: number, totals: ContentsTotals): void {
  const cursor = new Cursor(buf, start, end);
  while (cursor.pos < end) {
    const tag = cursor.varint();
    if (tag < 0) return;
    const wireType = tag % 8;
    const number = Math.floor(tag / 8);
    const field = TYPED_FIELDS[number];
    if (number === BYTES_CONTENTS_FIELD && wireType === WIRE_LEN) {
      const range = cursor.sub();
      if (!range) return;
      totals.strings++;
      totals.stringBytes += range[1] - range[0];
    } else if (field && wireType === WIRE_LEN) {
      // Packed: a varint ends at each byte below 0x80; fixed-size values are counted by length.
      const range = cursor.sub();
      if (!range) return;
      let elements = 0;
      if (field.varint) {
        for (let i = range[0]; i < range[1]; i++) if (buf[i]! < 0x80) elements++;
      } else {
        elements = Math.floor((range[1] - range[0]) / field.size);
      }
      totals.tensorBytes += elements * field.size;
    } else {
      if (field && (wireType === WIRE_VARINT || wireType === WIRE_I32 || wireType === WIRE_I64)) totals.tensorBytes += field.size;
      if (!cursor.skip(wireType)) return;
    }
  }
}

/**
 * Throws VIREO_ERR_REQUEST_TOO_LARGE when the message names too many inputs, outputs or parameters,
 * its typed numeric contents are too large, or its typed BYTES exceed their bounds.
 */
export function checkInferMessageShape(message: Uint8Array): void {
  const limits = requestLimits();
  const strings = bytesLimits();
  // Each input, output or parameter takes at least 2 bytes, a typed element at most 8 tensor bytes per byte of
  // message, a BYTES element at least 2 bytes: a message too short to break any bound needs no walk.
  const fewestEntries = Math.min(limits.maxInputs, limits.maxOutputs, limits.maxParameters, strings.maxElements);
  const fewestBytes = Math.min(limits.maxTensorBytes, limits.maxRequestTensorBytes);
  const length = message.byteLength;
  if (length < 2 * fewestEntries && length * 8 <= fewestBytes && length <= strings.maxTotalBytes) return;
  let inputs = 0;
  let total = 0;
  let parameters = 0;
  const parameter = () => checkParameterCount(++parameters);
  forEachSubmessage(message, 0, length, PARAMETERS_FIELD, parameter);
  const totals: ContentsTotals = { tensorBytes: 0, strings: 0, stringBytes: 0 };
  forEachSubmessage(message, 0, length, INPUTS_FIELD, (inputStart, inputEnd) => {
    checkInputCount(++inputs);
    forEachSubmessage(message, inputStart, inputEnd, INPUT_PARAMETERS_FIELD, parameter);
    const before = totals.tensorBytes;
    forEachSubmessage(message, inputStart, inputEnd, CONTENTS_FIELD, (start, end) => addTypedContents(message, start, end, totals));
    const bytes = totals.tensorBytes - before;
    checkTensorBytes(bytes, `inputs[${inputs - 1}] (typed contents)`);
    total += bytes;
    checkRequestTensorBytes(total);
  });
  let outputs = 0;
  forEachSubmessage(message, 0, length, OUTPUTS_FIELD, (outputStart, outputEnd) => {
    checkOutputCount(++outputs);
    forEachSubmessage(message, outputStart, outputEnd, OUTPUT_PARAMETERS_FIELD, parameter);
  });
  checkBytesElements(totals.strings, 'the request');
  checkBytesTotal(totals.stringBytes, 'the request');
}
