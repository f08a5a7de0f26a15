/**
 * What must hold before any port opens: a readable model repository directory, and no control
 * API reachable from the network without a token. Each failure is one VireoError whose message is
 * the whole story, so `vireo serve` can print it as one line and exit non-zero.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { VireoError } from '../core/errors.js';
import { isLoopbackHost } from '../server/access-policy.js';
import type { ServeOptions } from './start-server.js';

export async function checkRepositoryDirectory(path: string): Promise<void> {
  const fail = (why: string): never => {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `the model repository ${path} ${why}`);
  };
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => fail(error.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error.code ?? error.message})`));
  if (!info.isDirectory()) fail('is not a directory');
  await access(path, constants.R_OK | constants.X_OK).catch((error: NodeJS.ErrnoException) => fail(`cannot be read (${error.code ?? error.message})`));
}

/** The listeners that would serve control operations: HTTP and gRPC (metrics has none). */
function controlAddresses(options: ServeOptions): string[] {
  const addresses: string[] = [];
  if (options.httpPort >= 0) addresses.push(options.httpAddress);
  if (options.grpcPort !== undefined && options.grpcPort >= 0) addresses.push(options.grpcAddress ?? options.httpAddress);
  return addresses;
}

/**
 * Without a control token, control is decided by the peer address, which any proxy on the same
 * host (Knative's queue-proxy, a sidecar) turns into loopback: so a server reachable from the
 * network with control on (poll/explicit mode, or --allow-remote-control) must have a token.
 */
export function checkControlExposure(options: ServeOptions): void {
  if (options.controlToken) return;
  const controlOn = (options.modelControlMode ?? 'none') !== 'none' || options.allowRemoteControl === true;
  if (!controlOn) return;
  const exposed = controlAddresses(options).find((address) => !isLoopbackHost(address));
  if (exposed === undefined) return;
  const why = options.allowRemoteControl ? '--allow-remote-control' : `--model-control-mode ${options.modelControlMode}`;
  throw new VireoError('VIREO_ERR_CONFIG_INVALID', `refusing to start: ${why} on the non-loopback address ${exposed} needs --control-token or --control-token-file (VIREO_CONTROL_TOKEN, VIREO_CONTROL_TOKEN_FILE), or bind to 127.0.0.1`);
}
