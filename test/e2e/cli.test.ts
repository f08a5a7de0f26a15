/** The `vireo` command as a user runs it: help texts, options from the environment, bad options. */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const bin = join(import.meta.dirname, '..', '..', 'bin', 'vireo.js');
const examples = join(import.meta.dirname, '..', '..', 'examples', 'models');
/** Bound on loading the whole example repository (ten models, three of them handler workers) on a busy shared machine. */
const LOAD_WAIT_MS = 180_000;

it('vireo --help and vireo serve --help document the options', async () => {
  const top = await run(process.execPath, [bin, '--help']);
  assert.match(top.stdout, /serve/);
  const serve = await run(process.execPath, [bin, 'serve', '--help']);
  for (const flag of ['--model-repository', '--http-port', '--log-verbose', '--disable-auto-complete-config', '--strict-readiness', '--http-body-limit', '--grpc-port', '--grpc-address', '--grpc-max-message-size']) {
    assert.ok(serve.stdout.includes(flag), `${flag} missing from serve --help`);
  }
  assert.match(serve.stdout, /env: VIREO_HTTP_PORT/);
});

it('refuses a bad option value with a clear message', async () => {
  await assert.rejects(run(process.execPath, [bin, 'serve', '--model-repository', examples, '--http-port', 'abc']), (error: { stderr: string }) => {
    assert.match(error.stderr, /--http-port.*expected an integer/);
    return true;
  });
});

it('serves with options from the environment and exits 0 on SIGTERM', async () => {
  const child = spawn(process.execPath, [bin, 'serve'], {
    env: { ...process.env, VIREO_MODEL_REPOSITORY: examples, VIREO_HTTP_PORT: '0', VIREO_GRPC_PORT: '0', VIREO_METRICS_PORT: '0', VIREO_HTTP_ADDRESS: '127.0.0.1', VIREO_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in time:\n${output}`)), LOAD_WAIT_MS);
      child.stdout.on('data', () => {
        const line = output.split('\n').find((l) => l.includes('HTTP (OIP'));
        const match = line?.match(/"url":"(http:\/\/[^"]+)"/);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    for (let i = 0; i < 120; i++) {
      const ready = await fetch(`${url}/v2/health/ready`).then((r) => r.status, () => 0);
      if (ready === 200) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const meta = await (await fetch(`${url}/v2/models/simple`)).json() as { name: string };
    assert.equal(meta.name, 'simple');
    assert.match(output, /"url":"127\.0\.0\.1:\d+","msg":"gRPC \(OIP\) listening"/);
    const metricsUrl = output.match(/"url":"(http:\/\/[^"]+\/metrics)"/)![1]!;
    assert.match(await (await fetch(metricsUrl)).text(), /vireo_model_ready\{model="simple",version="1"\} 1/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    // Never leave a server behind when an assertion fails: the test runner would wait for it forever.
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

it('--allow-metrics=false opens no metrics port', async () => {
  const child = spawn(process.execPath, [bin, 'serve', '--allow-metrics=false', '--metrics-port', '1'], {
    env: { ...process.env, VIREO_MODEL_REPOSITORY: examples, VIREO_HTTP_PORT: '0', VIREO_HTTP_ADDRESS: '127.0.0.1', VIREO_LOG_FORMAT: 'json', VIREO_GRPC_PORT: '-1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in time:\n${output}`)), LOAD_WAIT_MS);
      child.stdout.on('data', () => {
        if (output.includes('initial model load finished')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    // Metrics disabled: no listener is started (port 1 is never bound, and no listening line is logged).
    assert.ok(!output.includes('metrics (Prometheus) listening'));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
