/**
 * The peer address of a gRPC call, for the control-API checks (server/control-access.ts). grpc-js's
 * getPeer() is `<remoteAddress>:<port>` with IPv6 addresses unbracketed (`::1:5000`), which is itself
 * a valid IPv6 address, so the port must be cut off here, where the format is known, not guessed later.
 */
import type { ServerUnaryCall } from '@grpc/grpc-js';

/** The bare address of a grpc-js peer string (`127.0.0.1:5000`, `::1:5000`, `[::1]:5000`, `ipv4:…`). */
export function peerAddress(peer: string): string | undefined {
  const bare = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(bare);
  if (bracketed) return bracketed[1];
  const port = /:\d+$/.exec(bare);
  return port ? bare.slice(0, port.index) : undefined;
}

export const callPeerAddress = (call: ServerUnaryCall<unknown, unknown>): string | undefined => peerAddress(call.getPeer());
