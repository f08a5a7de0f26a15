/**
 * Recognises dataframe bodies sent to the infer URL: CSV (`text/csv`), Arrow IPC
 * (`application/vnd.apache.arrow.stream` or `.file`), and JSON that is an array of records or an
 * object of columns (an OIP request always has "inputs", so the two never collide).
 */
import type { FastifyRequest } from 'fastify';
import { DATAFRAME_TYPES, jsonTable, parseArrow, parseCsv, type Table } from '../../codecs/dataframe-codec.js';
import { VireoError } from '../../core/errors.js';

function bytesOf(body: unknown, what: string): Uint8Array {
  if (!Buffer.isBuffer(body) || body.byteLength === 0) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `the ${what} body is empty`);
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

/** The table a CSV or Arrow body holds; undefined for other content types. */
export async function binaryTable(request: FastifyRequest): Promise<Table | undefined> {
  const type = (request.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith(DATAFRAME_TYPES.csv)) return parseCsv(bytesOf(request.body, 'CSV'));
  if (type.startsWith(DATAFRAME_TYPES.arrowStream) || type.startsWith(DATAFRAME_TYPES.arrowFile)) return parseArrow(bytesOf(request.body, 'Arrow'));
  return undefined;
}

/** The table of a parsed JSON body that is records or columns; undefined for an OIP request. */
export function jsonBodyTable(body: unknown): Table | undefined {
  return jsonTable(body);
}
