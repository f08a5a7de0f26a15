/**
 * Parquet files written page by page, with whatever page headers a test gives (hyparquet-writer's own
 * page-header and footer writers): for files whose pages declare what their bytes do not hold.
 */
import type { ColumnMetaData, CompressionCodec, Encoding, FileMetaData, PageHeader, SchemaElement } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';

export interface CraftedPage { header: PageHeader; body: Uint8Array }
export interface CraftedColumn {
  element: SchemaElement;
  codec?: CompressionCodec;
  pages: CraftedPage[];
  /** The chunk's num_values (default: the rows). */
  numValues?: number;
  /** The chunk's total_uncompressed_size (default: its pages' headers and declared sizes, as writers count it). */
  uncompressed?: number;
}

/** A varint as Parquet's RLE/bit-packed hybrid and thrift write it. */
export function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** A v1 level stream: its 4-byte length, then the runs. */
export function prefixed(runs: number[]): number[] {
  return [runs.length & 0xff, (runs.length >> 8) & 0xff, 0, 0, ...runs];
}

/** An RLE run of `count` copies of `value` (one byte wide). */
export const rleRun = (count: number, value: number) => [...varint(count * 2), value];

export const page = (header: Partial<PageHeader> & Pick<PageHeader, 'type'>, body: number[] | Uint8Array): CraftedPage => {
  const bytes = body instanceof Uint8Array ? body : Uint8Array.from(body);
  return { header: { uncompressed_page_size: bytes.length, compressed_page_size: bytes.length, ...header } as PageHeader, body: bytes };
};

/** PLAIN float32 values of a REQUIRED column: one page. */
export function floatPage(values: number[]): CraftedPage {
  const body = new Uint8Array(Float32Array.from(values).buffer);
  return page({ type: 'DATA_PAGE', data_page_header: { num_values: values.length, encoding: 'PLAIN', definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' } }, body);
}

/** PLAIN strings of an OPTIONAL column without nulls: levels (one RLE run of 1s), then length-prefixed bytes. */
export function stringPage(values: string[]): CraftedPage {
  const bytes: number[] = [...prefixed(rleRun(values.length, 1))];
  for (const v of values) {
    const b = Buffer.from(v);
    bytes.push(b.length & 0xff, (b.length >> 8) & 0xff, 0, 0, ...b);
  }
  return page({ type: 'DATA_PAGE', data_page_header: { num_values: values.length, encoding: 'PLAIN', definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' } }, bytes);
}

function headerBytes(header: PageHeader): number {
  const w = new ByteWriter();
  writePageHeader(w, header as never);
  return w.offset;
}

/** The file: PAR1, each column's pages as one chunk of one row group of `rows`, the footer, PAR1. */
export function craftParquet(rows: number, columns: CraftedColumn[]): Buffer {
  const w = new ByteWriter();
  w.appendUint32(0x31524150);
  const chunks = columns.map((c) => {
    const start = w.offset;
    for (const p of c.pages) {
      writePageHeader(w, p.header as never);
      w.appendBytes(p.body);
    }
    const compressed = w.offset - start;
    const uncompressed = c.uncompressed ?? c.pages.reduce((sum, p) => sum + headerBytes(p.header) + Math.max(0, p.header.uncompressed_page_size), 0);
    const meta: ColumnMetaData = {
      type: c.element.type!,
      encodings: ['PLAIN', 'RLE'] as Encoding[],
      path_in_schema: [c.element.name],
      codec: c.codec ?? 'UNCOMPRESSED',
      num_values: BigInt(c.numValues ?? rows),
      total_uncompressed_size: BigInt(uncompressed),
      total_compressed_size: BigInt(compressed),
      data_page_offset: BigInt(start),
    };
    return { file_offset: BigInt(start), meta_data: meta };
  });
  const metadata = {
    version: 2,
    schema: [{ name: 'root', num_children: columns.length }, ...columns.map((c) => c.element)],
    num_rows: BigInt(rows),
    row_groups: [{ columns: chunks, total_byte_size: BigInt(w.offset - 4), num_rows: BigInt(rows) }],
  } as unknown as FileMetaData;
  writeMetadata(w, metadata as never);
  w.appendUint32(0x31524150);
  return Buffer.from(w.getBuffer());
}
