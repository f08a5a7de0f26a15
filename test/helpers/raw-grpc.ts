/**
 * gRPC without a gRPC library: protobuf messages written field by field and calls made over a bare
 * node:http2 session, so tests can send what no well-behaved client would (garbage bytes, wrong wire
 * types, a compressed flag without compression, a message too costly to decode) and read the
 * status the server answers with.
 */
import { connect, type ClientHttp2Session } from 'node:http2';

/** Protobuf wire encoding, written by hand (independent of protobufjs). */
export const pb = {
  varint(value: number): Buffer {
    const bytes: number[] = [];
    let v = value;
    while (v >= 0x80) {
      bytes.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    bytes.push(v);
    return Buffer.from(bytes);
  },
  tag(field: number, wireType: number): Buffer {
    return pb.varint(field * 8 + wireType);
  },
  bytes(field: number, value: Uint8Array | string): Buffer {
    const data = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
    return Buffer.concat([pb.tag(field, 2), pb.varint(data.length), data]);
  },
  message(field: number, ...parts: Buffer[]): Buffer {
    return pb.bytes(field, Buffer.concat(parts));
  },
  int(field: number, value: number): Buffer {
    return Buffer.concat([pb.tag(field, 0), pb.varint(value)]);
  },
};

export interface RawAnswer {
  /** grpc-status (from trailers, or headers for a trailers-only answer); -1 when none came. */
  status: number;
  message: string;
  /** Length-prefixed response messages, unparsed. */
  messages: Buffer[];
  httpStatus: number;
}

export const INFER_PATH = '/inference.GRPCInferenceService/ModelInfer';
export const STREAM_PATH = '/inference.GRPCInferenceService/ModelStreamInfer';

/** A gRPC frame: compressed flag, 4-byte big-endian length, message. */
export function frame(message: Uint8Array, compressedFlag = 0, declaredLength = message.byteLength): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(compressedFlag, 0);
  head.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([head, message]);
}

function splitMessages(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  while (offset + 5 <= data.length) {
    const length = data.readUInt32BE(offset + 1);
    out.push(data.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return out;
}

/** One call: sends `body` (already framed) and collects the answer; `timeoutMs` bounds the wait. */
export function rawCall(session: ClientHttp2Session, path: string, body: Buffer, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    const chunks: Buffer[] = [];
    let status = -1;
    let message = '';
    let httpStatus = 0;
    const timer = setTimeout(() => {
      stream.close();
      reject(new Error(`no answer to ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    const read = (h: Record<string, unknown>) => {
      if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']);
      if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
    };
    stream.on('response', (h) => {
      httpStatus = Number(h[':status']);
      read(h);
    });
    stream.on('trailers', read);
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      clearTimeout(timer);
      resolve({ status, message, messages: splitMessages(Buffer.concat(chunks)), httpStatus });
    });
    stream.end(body);
  });
}

export function rawSession(target: string): ClientHttp2Session {
  const session = connect(`http://${target}`);
  session.on('error', () => undefined);
  return session;
}
