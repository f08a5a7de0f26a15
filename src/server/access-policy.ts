/**
 * Who may call what, for every frontend: the one guard behind control operations (repository
 * load/unload/index, logging and trace settings, and whatever control route comes next) and, when
 * API keys are configured, behind inference. Frontends hand over what they saw — the peer address,
 * the `Authorization` value (REST header or gRPC metadata) and, for HTTP, `Host` and `Origin` — and
 * get a VireoError back (UNAUTHENTICATED: no or a wrong credential; PERMISSION_DENIED: not from
 * here).
 *
 * Two modes for control:
 * - a control token is configured: every control call must carry `Authorization: Bearer <token>`,
 *   from any peer, loopback included (a local proxy such as Knative's queue-proxy makes every peer
 *   loopback, so the peer address proves nothing);
 * - no token (the default): only loopback peers (unless --allow-remote-control), and only under a
 *   loopback or configured `Host` (a DNS-rebound name pointing at 127.0.0.1 is not ours).
 * A cross-site `Origin` is refused in both modes: a browser page must never drive control routes.
 *
 * Secrets are kept only as SHA-256 digests and compared with timingSafeEqual over equal-length
 * digests, so neither the comparison time nor a log line (nothing here logs) gives them away.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { clip as bounded } from '../core/bounded-text.js';
import { VireoError } from '../core/errors.js';
import { checkControlAccess, isLoopbackAddress } from './control-access.js';

/** What a frontend saw of the caller. */
export interface Caller {
  remoteAddress?: string;
  /** The `Authorization` header or gRPC `authorization` metadata, verbatim. */
  authorization?: string;
  /** HTTP only: the `Host` header (absent for gRPC, whose `:authority` is not checked). */
  host?: string;
  /** HTTP only: the `Origin` header, sent by browsers on cross-origin and POST requests. */
  origin?: string;
}

export interface AccessPolicyOptions {
  controlMode?: 'none' | 'poll' | 'explicit';
  /** Bearer token for control operations (`--control-token`). */
  controlToken?: string;
  /** Inference API keys (`--api-keys-file`); empty or absent: inference is open. */
  apiKeys?: readonly string[];
  /** Without a token: accept control from non-loopback peers too (`--allow-remote-control`). */
  allowRemoteControl?: boolean;
  /** Extra `Host` names (with or without port) control routes accept without a token (`--control-host`). */
  controlHosts?: readonly string[];
  /** Origins allowed by CORS (`--cors-origin`): a control call from one of them is not cross-site. */
  corsOrigins?: readonly string[];
}

const digest = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();

/** Loopback host names and literals, as a `Host` header carries them (port removed). */
const LOOPBACK_HOSTS = new Set(['localhost', 'localhost.', 'ip6-localhost', 'ip6-loopback']);
/** The unspecified addresses reach this host's own listeners; no DNS name resolves into a Host of these. */
const UNSPECIFIED_HOSTS = new Set(['0.0.0.0', '::']);

/** The host part of a `Host` header or URL authority: `[::1]:8000` → `::1`, `name:80` → `name`. */
export function hostName(host: string): string {
  const trimmed = host.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(trimmed);
  if (bracketed) return bracketed[1]!;
  const colon = trimmed.lastIndexOf(':');
  return colon > 0 && trimmed.indexOf(':') === colon ? trimmed.slice(0, colon) : trimmed;
}

export function isLoopbackHost(host: string): boolean {
  const name = hostName(host);
  return LOOPBACK_HOSTS.has(name) || name.endsWith('.localhost') || isLoopbackAddress(name);
}

/** Reads a secret file: the token is its content with surrounding whitespace removed. */
export function readSecretFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `cannot read the ${what} file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const secret = text.trim();
  if (secret === '') throw new VireoError('VIREO_ERR_CONFIG_INVALID', `the ${what} file ${path} is empty`);
  return secret;
}

/** API keys, one per line; blank lines and lines starting with # are skipped. */
export function readApiKeysFile(path: string): string[] {
  const keys = readSecretFile(path, 'API keys').split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  if (keys.length === 0) throw new VireoError('VIREO_ERR_CONFIG_INVALID', `the API keys file ${path} lists no key`);
  return keys;
}

export class AccessPolicy {
  readonly #controlMode: 'none' | 'poll' | 'explicit';
  readonly #controlToken: Buffer | undefined;
  readonly #apiKeys: Buffer[];
  readonly #allowRemoteControl: boolean;
  readonly #controlHosts: Set<string>;
  readonly #corsOrigins: Set<string>;

  constructor(options: AccessPolicyOptions = {}) {
    this.#controlMode = options.controlMode ?? 'none';
    this.#controlToken = options.controlToken ? digest(options.controlToken) : undefined;
    this.#apiKeys = (options.apiKeys ?? []).map(digest);
    this.#allowRemoteControl = options.allowRemoteControl ?? false;
    this.#controlHosts = new Set((options.controlHosts ?? []).map(hostName));
    this.#corsOrigins = new Set((options.corsOrigins ?? []).map((o) => o.toLowerCase()));
  }

  get hasControlToken(): boolean {
    return this.#controlToken !== undefined;
  }

  get requiresApiKey(): boolean {
    return this.#apiKeys.length > 0;
  }

  /**
   * A control operation. `repository` marks the model repository API, which exists only in poll
   * and explicit mode; settings changes exist in every mode.
   */
  authorizeControl(caller: Caller, repository = false): void {
    if (repository) checkControlAccess(this.#controlMode, '127.0.0.1', true);
    this.#checkOrigin(caller);
    if (this.#controlToken) {
      if (!this.#matches(caller.authorization, [this.#controlToken])) {
        throw new VireoError('VIREO_ERR_UNAUTHENTICATED', caller.authorization === undefined
          ? 'this control operation needs a bearer token (Authorization: Bearer <control token>)'
          : 'the bearer token is not the control token');
      }
      return;
    }
    if (!this.#allowRemoteControl && !isLoopbackAddress(caller.remoteAddress)) {
      throw new VireoError('VIREO_ERR_PERMISSION_DENIED', `control operations are answered only to loopback clients (this one is ${caller.remoteAddress ?? 'unknown'}); configure --control-token to authenticate remote ones`);
    }
    if (caller.host !== undefined && !this.#isLocalHost(caller.host)) {
      throw new VireoError('VIREO_ERR_PERMISSION_DENIED', `control operations without a control token are answered only under a loopback Host (this one is "${bounded(caller.host)}"); list other names with --control-host`);
    }
  }

  /** An inference or read call: needs an API key (or the control token) only when keys are configured. */
  authorizeInference(caller: Caller): void {
    if (this.#apiKeys.length === 0) return;
    const accepted = this.#controlToken ? [...this.#apiKeys, this.#controlToken] : this.#apiKeys;
    if (!this.#matches(caller.authorization, accepted)) {
      throw new VireoError('VIREO_ERR_UNAUTHENTICATED', caller.authorization === undefined
        ? 'this server needs an API key (Authorization: Bearer <key>)'
        : 'the API key is not valid');
    }
  }

  /** A `Host` a DNS-rebound name cannot produce: loopback, unspecified, or configured by --control-host. */
  #isLocalHost(host: string): boolean {
    const name = hostName(host);
    return isLoopbackHost(name) || UNSPECIFIED_HOSTS.has(name) || this.#controlHosts.has(name);
  }

  /** A browser sends Origin on cross-origin requests; a control call must be same-origin or allowed by CORS. */
  #checkOrigin(caller: Caller): void {
    const origin = caller.origin;
    if (origin === undefined) return;
    if (this.#corsOrigins.has(origin.toLowerCase())) return;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      throw new VireoError('VIREO_ERR_PERMISSION_DENIED', `control operations refuse the malformed Origin "${bounded(origin)}"`);
    }
    if (caller.host === undefined || host.toLowerCase() !== caller.host.trim().toLowerCase()) {
      throw new VireoError('VIREO_ERR_PERMISSION_DENIED', `control operations refuse cross-site requests (Origin "${bounded(origin)}"); allow a site with --cors-origin`);
    }
  }

  /** Compares every candidate (no early exit), each in constant time over equal-length digests. */
  #matches(authorization: string | undefined, accepted: readonly Buffer[]): boolean {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) return false;
    const given = digest(match[1]!);
    let ok = false;
    for (const secret of accepted) ok = timingSafeEqual(given, secret) || ok;
    return ok;
  }
}
