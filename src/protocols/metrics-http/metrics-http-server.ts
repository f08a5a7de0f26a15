/**
 * The Prometheus scrape endpoint on its own port (Triton's layout: metrics apart from the
 * inference API, so it can be firewalled separately): `GET /metrics` (and HEAD) answers the text
 * exposition format; anything else is 404/405 with `{"error": "..."}`. A plain node:http server:
 * one route does not need fastify's machinery.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../logging/logger.js';

/** What the listener serves; metrics/ provides it, app/ wires it in. */
export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

export interface MetricsListener {
  readonly url: string;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function handle(source: MetricsSource, logger: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics') return sendJson(res, 404, { error: `no route ${req.method} ${path} (metrics are at GET /metrics)` });
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: `${req.method} is not allowed on /metrics` }, { allow: 'GET, HEAD' });
  try {
    const text = await source.text();
    res.writeHead(200, { 'content-type': source.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  } catch (error) {
    logger.error({ err: error }, 'collecting metrics failed');
    sendJson(res, 500, { error: `collecting metrics failed: ${(error as Error).message}` });
  }
}

export async function listenMetrics(options: { source: MetricsSource; logger: Logger; port: number; host: string }): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    // The body of a GET is never read; drain it so keep-alive connections stay usable.
    req.resume();
    void handle(options.source, options.logger, req, res);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
