/** Starts a real Vireo server on an ephemeral port over a model repository, for end-to-end tests. */
import { startServer, type RunningServer, type ServeOptions } from '../../src/app/start-server.js';
import { silentLogger } from '../../src/logging/logger.js';

export interface TestServer extends RunningServer {
  url: string;
  /** `127.0.0.1:<port>` of the gRPC frontend (started on a free port unless grpcPort: -1). */
  grpcTarget: string;
  get(path: string): Promise<{ status: number; body: any; headers: Headers }>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
}

async function decode(response: Response) {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the test sees the text
  }
  return { status: response.status, body, headers: response.headers };
}

export async function startTestServer(modelRepository: string, overrides: Partial<ServeOptions> = {}): Promise<TestServer> {
  const running = await startServer({
    modelRepository,
    httpPort: 0,
    httpAddress: '127.0.0.1',
    logger: silentLogger(),
    autoComplete: true,
    defaultMaxBatchSize: 4,
    strictReadiness: true,
    bodyLimit: 64 * 1024 * 1024,
    grpcPort: 0,
    ...overrides,
  });
  await running.loaded;
  const url = running.httpUrl!;
  return Object.assign(running, {
    url,
    grpcTarget: running.grpcUrl ?? '',
    get: async (path: string) => decode(await fetch(url + path)),
    post: async (path: string, body: unknown, headers: Record<string, string> = {}) => decode(await fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    })),
  });
}
