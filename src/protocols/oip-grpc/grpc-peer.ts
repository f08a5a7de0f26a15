/**
 * The peer address of a gRPC call, for the control-API checks (server/control-access.ts). grpc-js's
 * getPeer() is `<remoteAddress>:<port>` with IPv6 addresses unbracketed (`::1:5000`), which is itself
 * a valid IPv6 address, so the port must be cut off here, where the format is known, not guessed later.
 */
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import type { Caller } from '../../server/access-policy.js';

/** The bare address of a grpc-js peer string (`127.0.0.1:5000`, `::1:5000`, `[::1]:5000`, `ipv4:…`). */
export function peerAddress(peer: string): string | undefined {
  const bare = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(bare);
  if (bracketed) return bracketed[1];
  const port = /:\d+$/.exec(bare);
  return port ? bare.slice(0, port.index) : undefined;
}

export const callPeerAddress = (call: ServerUnaryCall<unknown, unknown>): string | undefined => peerAddress(call.getPeer());

/**
 * What the access guard (server/access-policy.ts) needs of a call: the peer (a unix-socket peer is
 * local, as loopback is) and the `authorization` metadata, when it occurs once as text.
 */
export function grpcCaller(call: { getPeer(): string; metadata: Metadata }): Caller {
  const peer = call.getPeer();
  const values = call.metadata.get('authorization');
  const authorization = values.length === 1 && typeof values[0] === 'string' ? values[0] : undefined;
  return { remoteAddress: peer.startsWith('unix:') ? '127.0.0.1' : peerAddress(peer), authorization };
}
