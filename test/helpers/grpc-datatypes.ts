/**
 * Test data for every datatype ONNX Runtime can serve through an Identity model, written out by
 * hand (boundary values included), with independent encoders for the gRPC typed and raw forms.
 * The expected output of an identity model is the input, so each case carries its own answer.
 */
import type { ElemType } from '../../tools/modelgen/onnx-graph.js';

export interface DatatypeCase {
  datatype: string;
  elem: ElemType;
  /** The values, in their natural JS form: boolean, number, bigint or string. */
  values: readonly (boolean | number | bigint | string)[];
  /** The InferTensorContents field, or undefined when the datatype has none (FP16). */
  field?: string;
  /** Typed contents as the test client sends them (int64 as decimal strings, bytes as Buffers). */
  typed?: () => unknown[];
  /** Little-endian raw bytes, built with DataView / Buffer, not with Vireo's code. */
  raw: () => Buffer;
  /** The values read back from raw bytes, in the same natural form as `values`. */
  fromRaw: (bytes: Buffer) => unknown[];
  /** The values read back from typed contents (as the client's loader decodes them). */
  fromTyped?: (values: unknown[]) => unknown[];
}

function fixed(size: number, write: (view: DataView, offset: number, value: any) => void, read: (view: DataView, offset: number) => unknown) {
  return {
    encode: (values: readonly unknown[]) => {
      const out = Buffer.alloc(values.length * size);
      const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
      values.forEach((v, i) => write(view, i * size, v));
      return out;
    },
    decode: (bytes: Buffer) => {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return Array.from({ length: bytes.byteLength / size }, (_, i) => read(view, i * size));
    },
  };
}

function numeric(datatype: string, elem: ElemType, field: string, values: readonly number[], size: number,
  write: (view: DataView, offset: number, value: any) => void, read: (view: DataView, offset: number) => unknown): DatatypeCase {
  const codec = fixed(size, write, read);
  return { datatype, elem, values, field, typed: () => [...values], raw: () => codec.encode(values), fromRaw: codec.decode, fromTyped: (v) => v };
}

function bigints(datatype: string, elem: ElemType, field: string, values: readonly bigint[], signed: boolean): DatatypeCase {
  const codec = fixed(8, (v, o, x) => (signed ? v.setBigInt64(o, x, true) : v.setBigUint64(o, x, true)), (v, o) => (signed ? v.getBigInt64(o, true) : v.getBigUint64(o, true)));
  return {
    datatype, elem, values, field,
    typed: () => values.map(String),
    raw: () => codec.encode(values),
    fromRaw: codec.decode,
    fromTyped: (v) => v.map((x) => BigInt(x as string)),
  };
}

// No NUL inside an element: ONNX Runtime's string tensors end an element at NUL (a backend limit,
// not a wire one; the wire tests for BYTES framing live in grpc-errors.test.ts).
const strings = ['', 'a', 'héllo wörld', '\u0001bin\u007f', 'x'.repeat(300), '🙂'];

export const DATATYPE_CASES: DatatypeCase[] = [
  {
    datatype: 'BOOL', elem: 'BOOL', field: 'bool_contents', values: [true, false, true, true, false, false],
    typed: () => [true, false, true, true, false, false],
    raw: () => Buffer.from([1, 0, 1, 1, 0, 0]),
    fromRaw: (b) => [...b].map((x) => x !== 0),
    fromTyped: (v) => v,
  },
  numeric('UINT8', 'UINT8', 'uint_contents', [0, 1, 127, 128, 254, 255], 1, (v, o, x) => v.setUint8(o, x), (v, o) => v.getUint8(o)),
  numeric('UINT16', 'UINT16', 'uint_contents', [0, 1, 300, 32768, 65534, 65535], 2, (v, o, x) => v.setUint16(o, x, true), (v, o) => v.getUint16(o, true)),
  numeric('UINT32', 'UINT32', 'uint_contents', [0, 1, 70000, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1], 4, (v, o, x) => v.setUint32(o, x, true), (v, o) => v.getUint32(o, true)),
  bigints('UINT64', 'UINT64', 'uint64_contents', [0n, 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n], false),
  numeric('INT8', 'INT8', 'int_contents', [-128, -1, 0, 1, 100, 127], 1, (v, o, x) => v.setInt8(o, x), (v, o) => v.getInt8(o)),
  numeric('INT16', 'INT16', 'int_contents', [-32768, -1, 0, 1, 1000, 32767], 2, (v, o, x) => v.setInt16(o, x, true), (v, o) => v.getInt16(o, true)),
  numeric('INT32', 'INT32', 'int_contents', [-(2 ** 31), -1, 0, 1, 123456, 2 ** 31 - 1], 4, (v, o, x) => v.setInt32(o, x, true), (v, o) => v.getInt32(o, true)),
  bigints('INT64', 'INT64', 'int64_contents', [-(2n ** 63n), -1n, 0n, 1n, 2n ** 53n + 1n, 2n ** 63n - 1n], true),
  {
    // FP16 has no typed field: raw only. Values are IEEE half bit patterns (1, -2, 0, 65504, ~1/3, smallest subnormal with sign).
    datatype: 'FP16', elem: 'FLOAT16', values: [0x3c00, 0xc000, 0x0000, 0x7bff, 0x3555, 0x8001],
    raw: () => fixed(2, (v, o, x) => v.setUint16(o, x, true), () => 0).encode([0x3c00, 0xc000, 0x0000, 0x7bff, 0x3555, 0x8001]),
    fromRaw: fixed(2, () => undefined, (v, o) => v.getUint16(o, true)).decode,
  },
  numeric('FP32', 'FLOAT', 'fp32_contents', [0, -1.5, 3.25, Math.fround(1e-7), Math.fround(3.4e38), -0.125], 4, (v, o, x) => v.setFloat32(o, x, true), (v, o) => v.getFloat32(o, true)),
  numeric('FP64', 'DOUBLE', 'fp64_contents', [0, -1.5, Math.PI, 1e-300, 1.7976931348623157e308, -0.125], 8, (v, o, x) => v.setFloat64(o, x, true), (v, o) => v.getFloat64(o, true)),
  {
    datatype: 'BYTES', elem: 'STRING', field: 'bytes_contents', values: strings,
    typed: () => strings.map((s) => Buffer.from(s, 'utf8')),
    raw: () => Buffer.concat(strings.flatMap((s) => {
      const bytes = Buffer.from(s, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    })),
    fromRaw: (b) => {
      const out: string[] = [];
      for (let offset = 0; offset < b.length;) {
        const length = b.readUInt32LE(offset);
        out.push(b.subarray(offset + 4, offset + 4 + length).toString('utf8'));
        offset += 4 + length;
      }
      return out;
    },
    fromTyped: (v) => (v as Buffer[]).map((b) => Buffer.from(b).toString('utf8')),
  },
];
