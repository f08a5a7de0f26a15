/** A real `vireo serve` child process (bin/vireo.js), for tests that signal or kill the server. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './lifecycle.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'vireo.js');

export interface ChildServer {
  process: ChildProcess;
  url: string;
  /** Every line the process printed, stdout and stderr. */
  lines: string[];
  /** The exit code (null when ended by a signal). */
  exit: Promise<number | null>;
}

/** Starts `vireo serve` on a free loopback port (no gRPC, no metrics) and waits until it is ready. */
export async function startChildServer(root: string, extra: string[] = []): Promise<ChildServer> {
  const child = spawn(process.execPath, [bin, 'serve', '--model-repository', root, '--http-port', '0', '--http-address', '127.0.0.1', '--grpc-port', '-1', '--allow-metrics', 'false', '--log-format', 'json', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const lines: string[] = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { lines.push(...c.split('\n')); });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await waitFor('the listening log line', () => {
    if (child.exitCode !== null) return 'exited';
    const line = lines.find((l) => l.includes('HTTP (OIP') && l.includes('listening'));
    return line ? (JSON.parse(line).url as string) : undefined;
  }, 120_000);
  if (url === 'exited') throw new Error(`vireo serve exited at start:\n${lines.join('\n')}`);
  await waitFor('readiness', async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 120_000);
  return { process: child, url, lines, exit };
}
