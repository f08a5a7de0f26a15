/**
 * OIP REST client over undici: one keep-alive connection pool per client, JSON or Triton binary
 * tensor data (the default, as with Triton's client), optional gzip/deflate on both directions.
 *
 * Binary requests pad the JSON header with spaces to a multiple of 8 bytes so the first binary
 * input starts aligned in the server's buffer and can be used there without a copy.
 */
import { promisify } from 'node:util';
import { deflate, gzip, gunzip, inflate } from 'node:zlib';
import { Pool } from 'undici';
import { makeInferResult } from './infer-result.js';
import { checkInput, inputBytes, inputJson, outputFromBytes, outputFromJson } from './tensor-codec.js';
import {
  InferenceClientError, type DataType, type InferenceClient, type InferInput, type InferOptions, type InferOutput,
  type InferResult, type ModelMetadata, type Parameters, type ServerMetadata,
} from './types.js';

const compressors = { gzip: promisify(gzip), deflate: promisify(deflate) };
const decompressors: Record<string, (b: Buffer) => Promise<Buffer>> = { gzip: promisify(gunzip), 'x-gzip': promisify(gunzip), deflate: promisify(inflate) };

export interface HttpClientOptions {
  /** Connections kept open to the server (default 8). */
  connections?: number;
  /** Headers added to every request (e.g. authorization). */
  headers?: Record<string, string>;
  /** Per-request timeout for headers and body, in milliseconds (default 300000). */
  timeoutMs?: number;
}

interface RawResponse { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

const modelPath = (model: string, version?: string) =>
  `/v2/models/${encodeURIComponent(model)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`;

export class HttpInferenceClient implements InferenceClient {
  readonly #pool: Pool;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;

  /** `url`: the server's HTTP origin, e.g. `http://localhost:8000`. */
  constructor(url: string, options: HttpClientOptions = {}) {
    this.#pool = new Pool(new URL(url).origin, { connections: options.connections ?? 8, pipelining: 1 });
    this.#headers = options.headers ?? {};
    this.#timeoutMs = options.timeoutMs ?? 300_000;
  }

  async serverLive(): Promise<boolean> {
    return (await this.#request('GET', '/v2/health/live')).status === 200;
  }

  async serverReady(): Promise<boolean> {
    return (await this.#request('GET', '/v2/health/ready')).status === 200;
  }

  async serverMetadata(): Promise<ServerMetadata> {
    return this.#json(await this.#request('GET', '/v2')) as ServerMetadata;
  }

  async modelReady(model: string, version?: string): Promise<boolean> {
    const response = await this.#request('GET', `${modelPath(model, version)}/ready`);
    if (response.status === 503) return false;
    return (this.#json(response) as { ready: boolean }).ready === true;
  }

  async modelMetadata(model: string, version?: string): Promise<ModelMetadata> {
    return this.#json(await this.#request('GET', modelPath(model, version))) as ModelMetadata;
  }

  async infer(model: string, inputs: readonly InferInput[], options: InferOptions = {}): Promise<InferResult> {
    const binary = options.binary ?? true;
    const chunks: Uint8Array[] = [];
    const header: Record<string, unknown> = {
      ...(options.id !== undefined ? { id: options.id } : {}),
      inputs: inputs.map((input) => {
        checkInput(input);
        const base = { name: input.name, datatype: input.datatype, shape: input.shape };
        if (!(input.binary ?? binary)) return { ...base, data: inputJson(input) };
        const bytes = inputBytes(input);
        chunks.push(bytes);
        return { ...base, parameters: { binary_data_size: bytes.byteLength } };
      }),
    };
    const parameters: Parameters = { ...options.parameters };
    if (options.priority !== undefined) parameters.priority = options.priority;
    if (options.timeoutUs !== undefined) parameters.timeout = options.timeoutUs;
    if (options.outputs) {
      header.outputs = options.outputs.map((o) => {
        const { name, binary: own } = typeof o === 'string' ? { name: o, binary: undefined } : o;
        return { name, parameters: { binary_data: own ?? binary } };
      });
    } else if (binary) {
      parameters.binary_data_output = true;
    }
    if (Object.keys(parameters).length > 0) header.parameters = parameters;

    const headers: Record<string, string> = {};
    let body: Buffer;
    if (chunks.length > 0) {
      const json = Buffer.from(JSON.stringify(header));
      const padded = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, ' ')]);
      headers['inference-header-content-length'] = String(padded.length);
      headers['content-type'] = 'application/octet-stream';
      body = Buffer.concat([padded, ...chunks]);
    } else {
      headers['content-type'] = 'application/json';
      body = Buffer.from(JSON.stringify(header));
    }
    if (options.compress) {
      body = await compressors[options.compress](body);
      headers['content-encoding'] = options.compress;
      headers['accept-encoding'] = options.compress;
    }
    const response = await this.#request('POST', `${modelPath(model, options.version)}/infer`, body, headers, options.signal);
    return decodeInferResponse(this.#checked(response));
  }

  /** Connections currently open in the keep-alive pool. */
  get openConnections(): number {
    return this.#pool.stats.connected;
  }

  /** Lets in-flight requests finish, then closes the connections. */
  async close(): Promise<void> {
    await this.#pool.close();
  }

  /** Aborts in-flight requests and closes the connections at once. */
  async destroy(): Promise<void> {
    await this.#pool.destroy();
  }

  async #request(method: 'GET' | 'POST', path: string, body?: Buffer, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<RawResponse> {
    const response = await this.#pool.request({
      path, method, body, signal,
      headers: { ...this.#headers, ...headers },
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
    let data: Buffer = Buffer.from(await response.body.arrayBuffer());
    const coding = response.headers['content-encoding'];
    if (typeof coding === 'string' && coding !== 'identity') {
      const decompress = decompressors[coding.toLowerCase()];
      if (!decompress) throw new InferenceClientError(`the server answered with an unsupported Content-Encoding "${coding}"`, response.statusCode, 'http');
      data = await decompress(data);
    }
    return { status: response.statusCode, headers: response.headers, body: data };
  }

  #checked(response: RawResponse): RawResponse {
    if (response.status < 400) return response;
    let message = response.body.toString('utf8');
    try {
      message = (JSON.parse(message) as { error?: string }).error ?? message;
    } catch {
      // not JSON: the text is the message
    }
    throw new InferenceClientError(message, response.status, 'http');
  }

  #json(response: RawResponse): unknown {
    return JSON.parse(this.#checked(response).body.toString('utf8'));
  }
}

interface JsonOutput { name: string; datatype: DataType; shape: number[]; data?: unknown; parameters?: { binary_data_size?: number } }

/** A JSON or binary-extension infer response, split by its Inference-Header-Content-Length. */
function decodeInferResponse(response: RawResponse): InferResult {
  const headerLength = response.headers['inference-header-content-length'];
  const jsonLength = headerLength === undefined ? response.body.length : Number(headerLength);
  if (!Number.isSafeInteger(jsonLength) || jsonLength > response.body.length) {
    throw new InferenceClientError(`malformed response: Inference-Header-Content-Length ${String(headerLength)} for a ${response.body.length}-byte body`, response.status, 'http');
  }
  const json = JSON.parse(response.body.toString('utf8', 0, jsonLength)) as {
    model_name: string; model_version: string; id?: string; parameters?: Parameters; outputs?: JsonOutput[];
  };
  let offset = jsonLength;
  const outputs: InferOutput[] = (json.outputs ?? []).map((o) => {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) return outputFromJson(o.name, o.datatype, o.shape, o.data);
    if (offset + size > response.body.length) throw new InferenceClientError(`malformed response: output "${o.name}" runs past the end of the body`, response.status, 'http');
    const bytes = response.body.subarray(offset, offset + size);
    offset += size;
    return outputFromBytes(o.name, o.datatype, o.shape, bytes);
  });
  return makeInferResult({ modelName: json.model_name, modelVersion: json.model_version, id: json.id, parameters: json.parameters, outputs });
}
