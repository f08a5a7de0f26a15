/**
 * While the server drains, every HTTP answer — the last answers of admitted requests and the 503s
 * of refused ones — carries `Connection: close`, and Node closes the connection once it is sent.
 * Keep-alive clients (undici, node:http agents) then open a new connection for their next request
 * instead of writing it on a socket the server is about to close (a reset with no answer), and
 * once the last admitted request is answered no connection is left busy: closing the listener
 * and the idle connections (fastify's close, `forceCloseConnections: 'idle'`) ends them all.
 */
import type { FastifyInstance } from 'fastify';

export function closeConnectionsWhileDraining(app: FastifyInstance, draining: () => boolean): void {
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining()) reply.header('connection', 'close');
    done(null, payload);
  });
}
