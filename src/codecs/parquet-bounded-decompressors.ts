/**
 * The decompressors hyparquet is given for Parquet pages (parquet-page-check.ts checks the pages'
 * declared sizes first): each allocates no more than the size its page declares. hyparquet-compressors'
 * own trust the stream: snappy grows its WebAssembly memory to what it is asked for (for good), a zstd
 * frame's declared size or window is allocated and one without a size decodes without end, brotli grows
 * its output by what each meta-block claims.
 */
import { brotliDecompressSync } from 'node:zlib';
import type { Compressors } from 'hyparquet';
import { compressors as upstream } from 'hyparquet-compressors';

const corrupt = (message: string): never => {
  throw new RangeError(message);
};

/** The largest page a decompressor is asked for: a typed array's length stays an int32 (fzstd reads sizes so). */
const MAX_PAGE_BYTES = 2 ** 31 - 1;

function checkLength(codec: string, length: number): void {
  if (!(Number.isSafeInteger(length) && length >= 0 && length <= MAX_PAGE_BYTES)) corrupt(`a ${codec} page declares ${length} bytes decompressed`);
}

/** Snappy's own length preamble (a varint of at most 32 bits). */
function snappyLength(input: Uint8Array): number {
  let value = 0;
  for (let i = 0, shift = 0; i < 5 && i < input.length; i++, shift += 7) {
    const byte = input[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (!(byte & 0x80)) return value;
  }
  return corrupt('a SNAPPY page has no valid length preamble');
}

const u32 = (d: Uint8Array, at: number) => (d[at]! | (d[at + 1]! << 8) | (d[at + 2]! << 16) | (d[at + 3]! << 24)) >>> 0;
/** A little-endian field of `n` bytes exactly as fzstd reads it (its shifts wrap past 32 bits, so must ours). */
function fzstdField(d: Uint8Array, at: number, n: number): number {
  let o = 0;
  for (let i = 0; i < n; ++i) o |= d[at++]! << (i << 3);
  return o;
}

/** zstd's largest block (Block_Maximum_Size): what one compressed block decodes to at the most. */
const ZSTD_MAX_BLOCK = 128 * 1024;

/**
 * ZSTD through fzstd with its allocations bounded by `length`, the page's declared size: fzstd allocates a
 * frame's declared content size, or else its window (up to 2 GiB) and then keeps every block it decodes
 * however many there are. The frames are walked first (headers and block headers only): `length` must be
 * what their blocks can make (raw and RLE blocks their size, a compressed one up to 128 KiB), their
 * declared sizes must add up to no more than `length`, and the one frame without a declared size, if any, is given
 * what is left of `length` as its declared size (so fzstd decodes it into an array of that size and no
 * more); several frames without one are refused.
 */
function boundedZstd(input: Uint8Array, length: number): Uint8Array {
  checkLength('ZSTD', length);
  const frames: { start: number; end: number; size: number; sizeAt: number; sizeBytes: number; sized: boolean; descriptor: number }[] = [];
  let declared = 0;
  let least = 0;
  let most = 0;
  for (let at = 0; at < input.length;) {
    if (input.length - at < 8) corrupt('a ZSTD page ends inside a frame header');
    const magic = u32(input, at);
    if (magic >>> 4 === 0x184d2a5) {
      // A skippable frame: its size, then that many bytes.
      at += 8 + u32(input, at + 4);
      continue;
    }
    if (magic !== 0xfd2fb528) corrupt('a ZSTD page holds something that is not a zstd frame');
    const descriptor = input[at + 4]!;
    if (descriptor & 8) corrupt('a ZSTD frame header has its reserved bit set');
    const single = (descriptor >> 5) & 1;
    const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]!;
    const sizeFlag = descriptor >> 6;
    const sizeBytes = sizeFlag ? 1 << sizeFlag : single;
    const sizeAt = at + 6 - single + dictionaryBytes;
    const size = sizeBytes ? fzstdField(input, sizeAt, sizeBytes) + (sizeFlag === 1 ? 256 : 0) : 0;
    let block = sizeAt + sizeBytes;
    // What the frame's blocks make: raw and RLE blocks exactly their size, a compressed block at most
    // 128 KiB (zstd's largest block).
    let exact = 0;
    let compressedBlocks = 0;
    for (let last = 0; !last;) {
      if (block + 3 > input.length) corrupt('a ZSTD frame ends inside a block header');
      const b0 = input[block]!;
      last = b0 & 1;
      const type = (b0 >> 1) & 3;
      if (type === 3) corrupt('a ZSTD block has the reserved type');
      const blockSize = (b0 >> 3) | (input[block + 1]! << 5) | (input[block + 2]! << 13);
      block += 3 + (type === 1 ? 1 : blockSize);
      if (type === 2) compressedBlocks++;
      else exact += blockSize;
      if (block > input.length) corrupt('a ZSTD block reaches past its page');
    }
    const end = block + ((descriptor >> 2) & 1) * 4;
    if (end > input.length) corrupt('a ZSTD frame checksum reaches past its page');
    // fzstd takes a declared size of 0 for none (it then allocates the window): so do we. A single-segment
    // frame of size 0 has a window of 0 too: nothing is allocated for it, and it holds nothing.
    const sized = size !== 0 || single === 1;
    if (size < 0) corrupt(`a ZSTD frame declares ${size} bytes`);
    declared += size;
    least += exact;
    most += exact + compressedBlocks * ZSTD_MAX_BLOCK;
    frames.push({ start: at, end, size, sizeAt, sizeBytes, sized, descriptor });
    at = end;
  }
  if (least > length || most < length) corrupt(`a ZSTD page's blocks make ${least === most ? least : `${least}–${most}`} bytes, its page header declares ${length}`);
  if (declared > length) corrupt(`a ZSTD page's frames declare ${declared} bytes decompressed, more than the ${length} its page header declares`);
  const unsized = frames.filter((f) => !f.sized);
  if (unsized.length > 1) corrupt('a ZSTD page of several frames without a declared size');
  if (unsized.length === 1) {
    const frame = unsized[0]!;
    const left = length - declared;
    if (left === 0) corrupt('a ZSTD frame without a declared size in a page with no bytes left for it');
    // The frame again with a 4-byte content size (frame content size flag 2) of what is left, in place
    // of the one it had (none, or a declared 0).
    const rebuilt = new Uint8Array(input.length + 4 - frame.sizeBytes);
    rebuilt.set(input.subarray(0, frame.sizeAt));
    rebuilt[frame.start + 4] = (frame.descriptor & 0x3f) | (2 << 6);
    new DataView(rebuilt.buffer).setUint32(frame.sizeAt, left, true);
    rebuilt.set(input.subarray(frame.sizeAt + frame.sizeBytes), frame.sizeAt + 4);
    input = rebuilt;
  }
  return upstream.ZSTD!(input, length);
}

/**
 * hyparquet-compressors' decompressors, each allocating no more than the page's declared size (checked
 * against its chunk by checkChunkPages first): snappy's preamble must say the same size (its WebAssembly
 * memory grows to what it is asked for and never shrinks; a shorter stream would hand back stale bytes),
 * zstd as boundedZstd, brotli through node's zlib stopped at that size (hyparquet-compressors' grows its
 * output by what each meta-block claims), gzip and LZ4 into an array of that size, as before.
 */
export const boundedCompressors: Compressors = {
  SNAPPY: (input, length) => {
    checkLength('SNAPPY', length);
    const own = snappyLength(input);
    if (own !== length) corrupt(`a SNAPPY page's stream declares ${own} bytes, its page header ${length}`);
    return upstream.SNAPPY!(input, length);
  },
  GZIP: (input, length) => {
    checkLength('GZIP', length);
    return upstream.GZIP!(input, length);
  },
  BROTLI: (input, length) => {
    checkLength('BROTLI', length);
    const out = brotliDecompressSync(input, { maxOutputLength: Math.max(1, length) });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  },
  ZSTD: boundedZstd,
  LZ4: (input, length) => {
    checkLength('LZ4', length);
    return upstream.LZ4!(input, length);
  },
  LZ4_RAW: (input, length) => {
    checkLength('LZ4_RAW', length);
    return upstream.LZ4_RAW!(input, length);
  },
};
