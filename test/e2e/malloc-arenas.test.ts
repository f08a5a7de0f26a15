/**
 * `vireo serve` and `vireo batch` bound glibc's malloc arenas (issue 13, defect 7) by replacing their
 * own process image with MALLOC_ARENA_MAX=2 added (bin/malloc-arenas.js, process.execve). Checked
 * on a real `vireo serve` started by bin/vireo.js: the process the parent spawned (same PID, so no
 * second process) has MALLOC_ARENA_MAX=2 in /proc/<pid>/environ and its original command line; its
 * logs still reach the parent's pipes; SIGTERM still drains and exits 0; start-up refusals keep their
 * exit code and message. A user's MALLOC_ARENA_MAX and VIREO_MALLOC_ARENA_MAX=keep are honoured.
 *
 * process.execve exists from Node 22.15 / 23.11; on an older Node the tests are skipped (saying
 * why). VIREO_EXECVE_NODE=<path to a node binary> runs them with that binary instead of this one.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { waitFor } from '../helpers/lifecycle.js';
import { makeRepository } from '../helpers/repository.js';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'vireo.js');
const node = process.env.VIREO_EXECVE_NODE ?? process.execPath;

function execveAvailable(): boolean {
  const probe = spawnSync(node, ['-p', 'typeof process.execve === "function" && process.platform === "linux" && typeof process.report.getReport().header.glibcVersionRuntime === "string"'], { encoding: 'utf8' });
  return probe.stdout.trim() === 'true';
}

const nodeVersion = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
const skip = execveAvailable() ? false : `${node} (${nodeVersion}) has no process.execve on Linux with glibc (Node >= 22.15 needed); set VIREO_EXECVE_NODE to such a binary to run these`;

/** The environment without MALLOC_ARENA_MAX, plus `extra`. */
function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', ...extra };
  if (!('MALLOC_ARENA_MAX' in extra)) delete env.MALLOC_ARENA_MAX;
  if (!('VIREO_MALLOC_ARENA_MAX' in extra)) delete env.VIREO_MALLOC_ARENA_MAX;
  return env;
}

function procEnviron(pid: number): Map<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return new Map(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

describe('malloc arenas bounded by re-exec (process.execve)', { skip }, () => {
  let repo: { root: string; cleanup: () => Promise<void> };

  before(async () => {
    repo = await makeRepository({ simple: { versions: { 1: simpleModel() } } });
  });
  after(async () => {
    await repo.cleanup();
  });

  /** Starts `vireo serve`, waits until it answers ready; returns the child, its lines and its exit. */
  async function serve(env: NodeJS.ProcessEnv) {
    const args = [bin, 'serve', '--model-repository', repo.root, '--http-port', '0', '--http-address', '127.0.0.1', '--grpc-port', '-1', '--allow-metrics', 'false', '--log-format', 'json'];
    const child = spawn(node, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const lines: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (c: string) => lines.push(...c.split('\n').filter(Boolean)));
    child.stderr.setEncoding('utf8').on('data', (c: string) => lines.push(...c.split('\n').filter(Boolean)));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const url = await waitFor('the listening log line', () => {
      if (child.exitCode !== null) throw new Error(`vireo serve exited at start:\n${lines.join('\n')}`);
      const line = lines.find((l) => l.includes('HTTP (OIP') && l.includes('listening'));
      return line ? (JSON.parse(line).url as string) : undefined;
    }, 120_000);
    await waitFor('readiness', async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 120_000);
    return { child, lines, exit, url, args };
  }

  it('serve: the spawned PID runs with MALLOC_ARENA_MAX=2, its argv and pipes unchanged; SIGTERM exits 0', async () => {
    const server = await serve(environment());
    const pid = server.child.pid!;
    assert.equal(procEnviron(pid).get('MALLOC_ARENA_MAX'), '2');
    // The image that runs is node with the same arguments (no wrapper process in between).
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    assert.deepEqual(cmdline, [node, ...server.args]);
    const inference = await fetch(`${server.url}/v2/models/simple/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: ['INPUT0', 'INPUT1'].map((name, k) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, i) => i * (k + 1)) })) }),
    });
    const body = await inference.json() as { outputs: { name: string; data: number[] }[] };
    assert.deepEqual(body.outputs.find((o) => o.name === 'OUTPUT0')!.data, Array.from({ length: 16 }, (_, i) => 3 * i));
    server.child.kill('SIGTERM');
    assert.deepEqual(await server.exit, { code: 0, signal: null });
    assert.ok(server.lines.some((l) => l.includes('drained')), server.lines.join('\n'));
  });

  it('a MALLOC_ARENA_MAX the user set is kept; VIREO_MALLOC_ARENA_MAX=keep opts out', async () => {
    const own = await serve(environment({ MALLOC_ARENA_MAX: '4' }));
    assert.equal(procEnviron(own.child.pid!).get('MALLOC_ARENA_MAX'), '4');
    own.child.kill('SIGINT');
    assert.deepEqual(await own.exit, { code: 0, signal: null });

    const kept = await serve(environment({ VIREO_MALLOC_ARENA_MAX: 'keep' }));
    assert.equal(procEnviron(kept.child.pid!).has('MALLOC_ARENA_MAX'), false);
    kept.child.kill('SIGTERM');
    assert.deepEqual(await kept.exit, { code: 0, signal: null });
  });

  it('start-up refusals and other commands: same exit code and output with and without the re-exec', () => {
    const run = (args: string[], env: NodeJS.ProcessEnv) => spawnSync(node, [bin, ...args], { env, encoding: 'utf8', timeout: 60_000 });
    const cases = [
      ['serve', '--model-repository', join(repo.root, 'no-such-dir'), '--http-port', '0', '--grpc-port', '-1', '--allow-metrics', 'false'],
      ['batch', '--no-such-option'],
      ['--version'],
    ];
    for (const args of cases) {
      const bounded = run(args, environment());
      const plain = run(args, environment({ VIREO_MALLOC_ARENA_MAX: 'keep' }));
      assert.equal(bounded.status, plain.status, `${args.join(' ')}: ${bounded.stderr}`);
      assert.equal(bounded.stdout, plain.stdout, args.join(' '));
      assert.equal(bounded.stderr, plain.stderr, args.join(' '));
    }
    assert.equal(run(cases[0]!, environment()).status, 1);
  });
});
