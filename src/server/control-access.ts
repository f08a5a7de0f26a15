/**
 * Who may call the model control API (repository load/unload/index): only when the control mode
 * allows it at all (poll or explicit), and only from the loopback interface unless remote control
 * was enabled. Frontends pass the peer address they see; proxies' forwarding headers are not
 * trusted (a header is not where a connection comes from).
 */
import { isIP } from 'node:net';
import { VireoError } from '../core/errors.js';

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const bare = address.startsWith('::ffff:') ? address.slice(7) : address;
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
