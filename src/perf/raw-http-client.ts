/**
 * A keep-alive HTTP/1.1 connection for `vireo bench` and the benchmarks' load generator that costs as little CPU as possible:
 * the request (line, headers, body) is serialised once and written as one buffer, and the answer
 * is parsed only as far as needed to find its end (status, Content-Length or chunked framing).
 * node:http's client spends ≈ 100 µs of CPU per request on this machine, which on 2 cores is CPU
 * taken from the server under test; this costs a fraction of that, as wrk or h2load would.
 */
import { connect, type Socket } from 'node:net';

export interface RawAnswer { status: number; body: Buffer }

/** The bytes of one POST, built once and sent as often as needed. */
export function serializePost(target: URL, headers: Record<string, string>, body: Buffer): Buffer {
  const lines = [`POST ${target.pathname}${target.search} HTTP/1.1`, `host: ${target.host}`, `content-length: ${body.length}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CHUNKED = -2;
/** A chunked body (no trailers) ends with the zero-size chunk; until a read ends so, nothing is parsed. */
const endsChunkedBody = (chunk: Buffer) => chunk.length < 5 || chunk.toString('latin1', chunk.length - 5) === '0\r\n\r\n';

const contentLength = (head: string) => /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];

/** A chunked body starting at `from`: where it ends and its data, or undefined while bytes are missing. */
function chunkedBody(data: Buffer, from: number): { end: number; body: Buffer } | undefined {
  const parts: Buffer[] = [];
  for (let at = from; ;) {
    const lineEnd = data.indexOf('\r\n', at, 'latin1');
    if (lineEnd < 0) return undefined;
    const sizeText = data.toString('latin1', at, lineEnd);
    if (!/^[0-9a-f]+$/i.test(sizeText)) throw new Error(`bad chunk size "${sizeText.slice(0, 20)}"`);
    const size = Number.parseInt(sizeText, 16);
    at = lineEnd + 2 + size + 2;
    if (at > data.length) return undefined;
    if (size === 0) return { end: at, body: Buffer.concat(parts) };
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
  }
}

/** The complete answer whose body starts at `from`, or undefined while bytes are missing. */
function answerBody(data: Buffer, from: number, head: string): { end: number; body: Buffer } | undefined {
  const length = contentLength(head);
  if (length !== undefined) {
    const end = from + Number(length);
    return data.length >= end ? { end, body: data.subarray(from, end) } : undefined;
  }
  if (!/\r\ntransfer-encoding:\s*chunked/i.test(head)) throw new Error(`answer without framing: ${head.slice(0, 200)}`);
  return chunkedBody(data, from);
}

/** One connection, one request at a time (a closed-loop client). */
export class RawHttpConnection {
  private socket: Socket | undefined;
  /** Bytes of the answer so far, joined only once it is complete (answers of a megabyte come in many chunks). */
  private chunks: Buffer[] = [];
  private received = 0;
  /** Where the answer ends once its head has been read; -1 while unknown (no head yet), CHUNKED when chunked. */
  private expected = -1;
  private waiter: { resolve(answer: RawAnswer): void; reject(error: Error): void } | undefined;

  constructor(private readonly target: URL) {}

  private open(): Socket {
    const socket = connect({ host: this.target.hostname, port: Number(this.target.port), noDelay: true });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (error: Error) => {
      this.socket = undefined;
      this.reset();
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter?.reject(error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed by the server')));
    return socket;
  }

  private reset(): void {
    this.chunks = [];
    this.received = 0;
    this.expected = -1;
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.received += chunk.length;
    if (this.expected >= 0 && this.received < this.expected) return;
    if (this.expected === CHUNKED && !endsChunkedBody(chunk)) return;
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [data];
    const headerEnd = data.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = data.toString('latin1', 0, headerEnd);
    try {
      const complete = answerBody(data, headerEnd + 4, head);
      if (!complete) {
        const length = contentLength(head);
        this.expected = length !== undefined ? headerEnd + 4 + Number(length) : CHUNKED;
        return;
      }
      const answer = { status: Number(head.slice(9, 12)), body: complete.body };
      this.reset();
      if (complete.end < data.length) throw new Error('bytes after the answer to a request not yet sent');
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter?.resolve(answer);
    } catch (error) {
      this.socket?.destroy(error as Error);
    }
  }

  send(request: Buffer): Promise<RawAnswer> {
    this.socket ??= this.open();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.socket!.write(request);
    });
  }

  close(): void {
    this.socket?.removeAllListeners('close');
    this.socket?.destroy();
    this.socket = undefined;
  }
}
