/**
 * `vireo serve | head`: once the reader of its log stream has gone, the server still shuts down on
 * SIGTERM. With pino's asynchronous stdout, the exit-time flush retried the broken pipe forever
 * (sonic-boom's flushSync sleeps 100 ms and retries any error) and the process never exited.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'vireo.js');
const repo = await mkdtemp(join(tmpdir(), 'vireo-broken-stdout-'));
after(() => rm(repo, { recursive: true, force: true }));

it('a server whose stdout reader closed exits on SIGTERM', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [bin, 'serve', '--model-repository', repo, '--http-address', '127.0.0.1', '--http-port', '0', '--grpc-port', '-1', '--metrics-port', '-1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = once(child, 'exit');
  let seen = '';
  for await (const chunk of child.stdout!) {
    seen += chunk;
    if (seen.includes('initial model load finished')) break; // leaving the loop destroys the stream: the pipe's reader is gone
  }
  assert.ok(child.stdout!.destroyed);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = await exited;
  clearTimeout(timer);
  assert.deepEqual([code, signal], [0, null], 'exited by itself after SIGTERM, not killed');
});
