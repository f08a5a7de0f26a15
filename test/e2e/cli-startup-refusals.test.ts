/**
 * `vireo serve` refusing to start (issue 13, defect 14 and the control-token rule): one line on
 * stderr, a non-zero exit, and no port opened — checked by binding the very ports it was given.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { freePort } from '../helpers/free-port.js';
import { makeRepository } from '../helpers/repository.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'vireo.js');

/** Runs `vireo serve` to its exit (bounded by a kill after 60 s). */
function serve(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, 'serve', ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error as { code?: number }).code ?? null : 0, stdout, stderr });
    });
  });
}

let repo: { root: string; cleanup: () => Promise<void> };
let scratch: string;
before(async () => {
  repo = await makeRepository({ simple: { versions: { 1: simpleModel() } } });
  scratch = await mkdtemp(join(tmpdir(), 'vireo-cli-'));
});
after(async () => {
  await repo.cleanup();
  await rm(scratch, { recursive: true, force: true });
});

const ports = async () => ['--http-port', String(await freePort()), '--grpc-port', String(await freePort()), '--metrics-port', String(await freePort())];

function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '' && !line.includes('ExperimentalWarning') && !line.includes('--trace-warnings'));
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}

it('a missing model repository: one line, exit 1, no listener', async () => {
  const args = await ports();
  const result = await serve(['--model-repository', join(scratch, 'no-such-dir'), ...args, '--http-address', '127.0.0.1']);
  assert.equal(result.code, 1);
  assertOneLine(result.stderr, /^vireo serve: the model repository .*no-such-dir does not exist$/);
  assert.doesNotMatch(result.stdout, /listening/);
});

it('a repository that is a file: one line, exit 1', async () => {
  const file = join(scratch, 'file');
  await writeFile(file, 'x');
  const result = await serve(['--model-repository', file, ...(await ports()), '--http-address', '127.0.0.1']);
  assert.equal(result.code, 1);
  assertOneLine(result.stderr, /is not a directory/);
});

it('a --batch-dir that cannot be made: one line naming it, exit 1', async () => {
  const file = join(scratch, 'batch-dir-is-a-file');
  await writeFile(file, 'x');
  const result = await serve(['--model-repository', repo.root, '--batch-dir', file, ...(await ports()), '--http-address', '127.0.0.1']);
  assert.equal(result.code, 1);
  assertOneLine(result.stderr, /^vireo serve: --batch-dir .*batch-dir-is-a-file cannot be made: ENOTDIR/);
});

it('explicit control mode on 0.0.0.0 without a token: refused, naming the options', async () => {
  const result = await serve(['--model-repository', repo.root, ...(await ports()), '--model-control-mode', 'explicit']);
  assert.equal(result.code, 1);
  assertOneLine(result.stderr, /refusing to start: --model-control-mode explicit on the non-loopback address 0\.0\.0\.0 needs --control-token or --control-token-file/);
  assert.doesNotMatch(result.stdout, /listening/);
});

it('an unreadable or empty token file: refused in one line', async () => {
  const empty = join(scratch, 'empty-token');
  await writeFile(empty, '\n');
  for (const [env, pattern] of [
    [{ VIREO_CONTROL_TOKEN_FILE: join(scratch, 'missing-token') }, /cannot read the control token file .*missing-token: ENOENT/],
    [{ VIREO_CONTROL_TOKEN_FILE: empty }, /control token file .* is empty/],
    [{ VIREO_API_KEYS_FILE: empty }, /API keys file .* is empty/],
  ] as const) {
    const result = await serve(['--model-repository', repo.root, ...(await ports()), '--http-address', '127.0.0.1'], env);
    assert.equal(result.code, 1);
    assertOneLine(result.stderr, pattern);
  }
});
