/**
 * HTTP content codings for every REST route: `Content-Encoding: gzip|deflate` request bodies are
 * inflated before the body parser sees them, and responses are compressed when the client's
 * `Accept-Encoding` asks for it on inference routes (Triton's client offers both; binary_data extension users rely on it).
 *
 * Invariant: an inflated body never exceeds the body limit. The inflater is destroyed the moment its
 * output passes the limit, so a zip bomb costs at most `limit` bytes of output and its own input.
 */
import { createGunzip, createInflate, deflate, gzip, type Gunzip, type Inflate } from 'node:zlib';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { VireoError } from '../../core/errors.js';

/** Responses smaller than this go out uncompressed: the coding would cost more than it saves. */
export const COMPRESSION_THRESHOLD = 1024;

type Coding = 'gzip' | 'deflate';

/** What `Accept-Encoding` names on a refusal of an unsupported request coding, as Triton's does. */
const SUPPORTED_REQUEST_CODINGS = 'gzip, deflate';

/** OIP's inference routes, where Triton reads a request's Content-Encoding (its other routes ignore it). */
const isOipInferRoute = (url: string | undefined): boolean => url !== undefined && url.startsWith('/v2/models/') && url.endsWith('/infer');

/** Null when the coding is not one Vireo inflates. */
function requestCoding(header: string | undefined): Coding | 'identity' | null {
  const value = (header ?? 'identity').trim().toLowerCase();
  if (value === 'identity' || value === '') return 'identity';
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate') return 'deflate';
  return null;
}

/**
 * An unsupported coding on OIP infer is answered as Triton's HTTPAPIServer::DecompressBuffer does:
 * 501 (its UNSUPPORTED error class) with `Accept-Encoding: gzip, deflate`. Every other route keeps
 * 400: Triton does not decode their bodies at all, so it has no answer of its own to follow there.
 */
function unsupportedCoding(header: string | undefined, url: string | undefined, reply: FastifyReply): VireoError {
  const detail = `"${header}" (supported: gzip, deflate, identity)`;
  if (!isOipInferRoute(url)) return new VireoError('VIREO_ERR_REQUEST_MALFORMED', `unsupported Content-Encoding ${detail}`);
  reply.header('accept-encoding', SUPPORTED_REQUEST_CODINGS);
  return new VireoError('VIREO_ERR_UNIMPLEMENTED', `Unsupported compression type ${detail}`);
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

/**
 * Only inference answers are compressed, as Triton does: its clients send Accept-Encoding on every
 * call but read only inference responses compressed (tritonclient.http.aio cannot read a gzipped
 * statistics or metadata answer).
 */
function isInferenceRoute(url: string | undefined): boolean {
  return url !== undefined && (url.endsWith('/infer') || url.endsWith('::predict'));
}

export function registerBodyEncoding(app: FastifyInstance, bodyLimit: number): void {
  // Callback-style hooks: the common request (no coding) costs a header check, not a promise.
  app.addHook('preParsing', (request, reply, payload, done) => {
    const header = request.headers['content-encoding'];
    const coding = requestCoding(header);
    if (coding === null) return done(unsupportedCoding(header, request.routeOptions.url, reply));
    if (coding === 'identity') return done(null, payload);
    const inflater: (Gunzip | Inflate) & { receivedEncodedLength?: number } = coding === 'gzip' ? createGunzip() : createInflate();
    let decoded = 0;
    inflater.receivedEncodedLength = 0;
    payload.on('data', (chunk: Buffer) => {
      inflater.receivedEncodedLength! += chunk.length;
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
    done(null, payload.pipe(inflater));
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    if ((typeof payload !== 'string' && !Buffer.isBuffer(payload)) || payload.length < COMPRESSION_THRESHOLD || reply.hasHeader('content-encoding')
      || !isInferenceRoute(request.routeOptions.url)) {
      return done(null, payload);
    }
    reply.header('vary', 'Accept-Encoding');
    const coding = acceptedCoding(request.headers['accept-encoding']);
    if (!coding) return done(null, payload);
    // zlib's async API runs in the libuv thread pool, off the event loop.
    (coding === 'gzip' ? gzip : deflate)(payload, (error, compressed) => {
      if (error) return done(error);
      reply.header('content-encoding', coding);
      reply.removeHeader('content-length');
      done(null, compressed);
    });
  });
}
