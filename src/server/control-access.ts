/**
 * Who may call the model control API (repository load/unload/index): only when the control mode
 * allows it at all (poll or explicit), and only from the loopback interface unless remote control
 * was enabled. Frontends pass the peer address they see; proxies' forwarding headers are not
 * trusted (a header is not where a connection comes from).
 */
import { isIP } from 'node:net';
import { VireoError } from '../core/errors.js';

/**
 * True for 127.0.0.0/8 and ::1, given a bare address (node sockets), an IPv4-mapped IPv6 one, or a
 * gRPC peer string (`ipv4:127.0.0.1:5000`, `ipv6:[::1]:5000`).
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  let bare = address;
  const grpc = /^ipv[46]:(?:\[([^\]]+)\]|([^:]+)):\d+$/.exec(address);
  if (grpc) bare = grpc[1] ?? grpc[2]!;
  if (bare.startsWith('::ffff:')) bare = bare.slice(7);
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

export function checkControlAccess(mode: 'none' | 'poll' | 'explicit', remoteAddress: string | undefined, allowRemote: boolean): void {
  if (mode === 'none') {
    throw new VireoError('VIREO_ERR_PERMISSION_DENIED', 'the model repository API is disabled: start the server with --model-control-mode explicit or poll');
  }
  if (!allowRemote && !isLoopbackAddress(remoteAddress)) {
    throw new VireoError('VIREO_ERR_PERMISSION_DENIED', `the model repository API only answers loopback clients (this one is ${remoteAddress ?? 'unknown'}); start the server with --allow-remote-control to open it`);
  }
}
