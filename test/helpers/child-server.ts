/** A real `vireo serve` child process (bin/vireo.js), for tests that signal or kill the server. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './lifecycle.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'vireo.js');

export interface ChildServer {
  process: ChildProcess;
  url: string;
  /** The gRPC endpoint (host:port), when started with `grpc: true`. */
  grpcUrl?: string;
  /** Every line the process printed, stdout and stderr (the last `keepLines` of them). */
  lines: string[];
  /** The exit code (null when ended by a signal). */
  exit: Promise<number | null>;
}

export interface ChildServerOptions {
  /** Serve gRPC too, on a free loopback port (default: no gRPC). */
  grpc?: boolean;
  /** Keep only this many of the latest lines, for a server that logs without end (default: all). */
  keepLines?: number;
}

/** Starts `vireo serve` on a free loopback port (no metrics; gRPC only when asked) and waits until it is ready. */
export async function startChildServer(root: string, extra: string[] = [], options: ChildServerOptions = {}): Promise<ChildServer> {
  const grpcPort = options.grpc ? '0' : '-1';
  const child = spawn(process.execPath, [bin, 'serve', '--model-repository', root, '--http-port', '0', '--http-address', '127.0.0.1', '--grpc-port', grpcPort, '--allow-metrics', 'false', '--log-format', 'json', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const lines: string[] = [];
  const keep = (added: string[]) => {
    lines.push(...added);
    if (options.keepLines !== undefined && lines.length > options.keepLines) lines.splice(0, lines.length - options.keepLines);
  };
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    keep(parts);
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => keep(c.split('\n')));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => {
    if (signal) process.stderr.write(`child ended by ${signal}\n`);
    resolve(code);
  }));
  const urlOf = (marker: string) => {
    if (child.exitCode !== null) return 'exited';
    const line = lines.find((l) => l.includes(marker) && l.includes('listening'));
    return line ? (JSON.parse(line).url as string) : undefined;
  };
  const url = await waitFor('HTTP listening', () => urlOf('HTTP (OIP'), 120_000);
  const grpcUrl = options.grpc ? await waitFor('gRPC listening', () => urlOf('gRPC (OIP)'), 120_000) : undefined;
  if (url === 'exited' || grpcUrl === 'exited') throw new Error(`vireo serve exited at start:\n${lines.join('\n')}`);
  await waitFor('readiness', async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 120_000);
  return { process: child, url, grpcUrl, lines, exit };
}
