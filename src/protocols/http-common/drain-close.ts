/**
 * While the server drains, every HTTP answer — the last answers of admitted requests and the 503s
 * of refused ones — carries `Connection: close`, and Node closes the connection once it is sent.
 * Keep-alive clients (undici, node:http agents) then open a new connection for their next request
 * instead of writing it on a socket the server is about to close (a reset with no answer), and
 * once the last admitted request is answered no connection is left busy: closing the listener
 * and the idle connections (fastify's close, `forceCloseConnections: 'idle'`) ends them all.
 *
 * Requests still arriving then (headers or body not all received: a slow upload, a client that
 * trickles) were never admitted. When the app closes they are answered 503 and their connections
 * closed; Node would otherwise keep them until --request-timeout-ms (60 s), past the drain timeout
 * (30 s), and the process would exit 1 with nothing admitted running.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';

interface Connection {
  /** The request being received or answered, and its response; undefined between requests. */
  request?: IncomingMessage;
  response?: ServerResponse;
  /** Bytes read when the last answer was sent: more since means a request has begun to arrive. */
  readAtRest: number;
}

const REFUSAL = JSON.stringify({ error: 'the server is shutting down and takes no new requests' });

export function closeConnectionsWhileDraining(app: FastifyInstance, draining: () => boolean): void {
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining()) reply.header('connection', 'close');
    done(null, payload);
  });

  const connections = new Map<Socket, Connection>();
  // The socket the HTTP parser reads: over TLS the decrypted one, not the TCP socket under it.
  const event = app.server instanceof TlsServer ? 'secureConnection' : 'connection';
  app.server.on(event, (socket: Socket) => {
    connections.set(socket, { readAtRest: 0 });
    socket.once('close', () => connections.delete(socket));
  });
  app.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const connection = connections.get(request.socket as Socket);
    if (!connection) return;
    connection.request = request;
    connection.response = response;
    response.once('finish', () => {
      connection.request = undefined;
      connection.response = undefined;
      connection.readAtRest = request.socket.bytesRead;
    });
  });
  // Runs when the app closes, after the admitted requests were answered (start-server.ts): a request
  // fully received is being handled and finishes; one still arriving is refused as a new one would be.
  app.addHook('preClose', (done) => {
    for (const [socket, { request, response, readAtRest }] of connections) {
      const arriving = request ? !request.complete : socket.bytesRead > readAtRest;
      if (!arriving || socket.destroyed) continue;
      if (!socket.writable || response?.headersSent) {
        socket.destroy();
        continue;
      }
      // Written on the socket as Node answers a request timeout: the response object may not exist yet.
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Length: ${Buffer.byteLength(REFUSAL)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${REFUSAL}`, () => socket.destroy());
    }
    done();
  });
}
