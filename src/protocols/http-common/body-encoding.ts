/**
 * HTTP content codings for every REST route: `Content-Encoding: gzip|deflate` request bodies are
 * inflated before the body parser sees them, and responses are compressed when the client's
 * `Accept-Encoding` asks for it (Triton's client offers both; binary_data extension users rely on it).
 *
 * Invariant: an inflated body never exceeds the body limit. The inflater is destroyed the moment its
 * output passes the limit, so a zip bomb costs at most `limit` bytes of output and its own input.
 */
import { promisify } from 'node:util';
import { createGunzip, createInflate, deflate, gzip, type Gunzip, type Inflate } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { VireoError } from '../../core/errors.js';

const gzipAsync = promisify(gzip);
const deflateAsync = promisify(deflate);

/** Responses smaller than this go out uncompressed: the coding would cost more than it saves. */
export const COMPRESSION_THRESHOLD = 1024;

type Coding = 'gzip' | 'deflate';

function requestCoding(header: string | undefined): Coding | 'identity' {
  const value = (header ?? 'identity').trim().toLowerCase();
  if (value === 'identity' || value === '') return 'identity';
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate') return 'deflate';
  throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `unsupported Content-Encoding "${header}" (supported: gzip, deflate, identity)`);
}

/** The client's preferred coding we support, from `Accept-Encoding` q-values; gzip wins ties. */
export function acceptedCoding(header: string | undefined): Coding | undefined {
  if (!header) return undefined;
  let best: Coding | undefined;
  let bestQ = 0;
  for (const part of header.split(',')) {
    const [token, ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    const coding = token === 'gzip' || token === 'x-gzip' ? 'gzip' : token === 'deflate' ? 'deflate' : token === '*' ? 'gzip' : undefined;
    if (coding && (q > bestQ || (q === bestQ && coding === 'gzip'))) {
      best = coding;
      bestQ = q;
    }
  }
  return best;
}

export function registerBodyEncoding(app: FastifyInstance, bodyLimit: number): void {
  app.addHook('preParsing', async (request, _reply, payload) => {
    const coding = requestCoding(request.headers['content-encoding']);
    if (coding === 'identity') return payload;
    const inflater: (Gunzip | Inflate) & { receivedEncodedLength?: number } = coding === 'gzip' ? createGunzip() : createInflate();
    let encoded = 0;
    let decoded = 0;
    payload.on('data', (chunk: Buffer) => {
      encoded += chunk.length;
      inflater.receivedEncodedLength = encoded;
    });
    inflater.on('data', (chunk: Buffer) => {
      decoded += chunk.length;
      if (decoded > bodyLimit) {
        payload.unpipe(inflater);
        inflater.destroy(new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', `the ${coding}-decoded request body is larger than the limit of ${bodyLimit} bytes`));
      }
    });
    payload.on('error', (error) => inflater.destroy(error));
    // fastify's body reader listens for errors until it has given up on the body (it may give up first,
    // on the same limit): this keeps a late error from being an uncaught exception.
    inflater.on('error', () => undefined);
    inflater.receivedEncodedLength = 0;
    return payload.pipe(inflater);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.getHeader('content-encoding')) return payload;
    const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.isBuffer(payload) ? payload : undefined;
    if (!body || body.length < COMPRESSION_THRESHOLD) return payload;
    const coding = acceptedCoding(request.headers['accept-encoding']);
    reply.header('vary', 'Accept-Encoding');
    if (!coding) return payload;
    const compressed = coding === 'gzip' ? await gzipAsync(body) : await deflateAsync(body);
    reply.header('content-encoding', coding);
    reply.removeHeader('content-length');
    return compressed;
  });
}
