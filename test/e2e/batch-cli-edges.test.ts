/**
 * `vireo batch` over the real CLI (a child process) at its edges: `--version` after the command is the
 * model's version, a comma is part of an --input path or glob (VIREO_INPUT lists one per line), a shard
 * the environment gets wrong and a busy --metrics-port are one line and the exit code of their kind, and
 * a job's identity covers the models that answer it (its model, an ensemble's steps), not every model
 * of the repository. Expected sums are computed here (simple: OUTPUT0 = INPUT0 + INPUT1).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { identityModel, simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository, writeModel } from '../helpers/repository.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'vireo.js');
const t = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [16] });

interface Run { code: number | null; killed: boolean; stdout: string; stderr: string }

/** Runs `vireo …` to its exit (bounded by a kill after 60 s). */
function vireo(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const failure = error as { code?: number; killed?: boolean } | null;
      resolve({ code: failure ? failure.code ?? null : 0, killed: Boolean(failure?.killed), stdout, stderr });
    });
  });
}

/** The lines a human reads: stderr without the JSON log lines and node's own warnings. */
function messages(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{') && !l.includes('ExperimentalWarning') && !l.includes('--trace-warnings'));
}

function assertOneLine(run: Run, pattern: RegExp): void {
  assert.deepEqual(messages(run.stderr).length, 1, `one line on stderr, got:\n${run.stderr}`);
  assert.match(messages(run.stderr)[0]!, pattern);
  assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
}

/** `rows` OIP lines for simple (or the pipeline's A and B); row i holds i + k and 2i. */
function requests(rows: number, names = ['INPUT0', 'INPUT1']): string {
  const line = (i: number) => JSON.stringify({ inputs: names.map((name, n) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, k) => (n === 0 ? i + k : 2 * i)) })) });
  return Array.from({ length: rows }, (_, i) => `${line(i)}\n`).join('');
}

async function outputLines(output: string): Promise<Record<string, any>[]> {
  const files = (await readdir(join(output, 'parts'))).filter((f) => f.endsWith('.jsonl') && !f.endsWith('.errors.jsonl')).sort();
  const lines: Record<string, any>[] = [];
  for (const f of files) for (const l of (await readFile(join(output, 'parts', f), 'utf8')).split('\n')) if (l) lines.push(JSON.parse(l));
  return lines;
}

const summary = (run: Run) => JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { rows: number; resumedRows: number };
const exists = (path: string) => access(path).then(() => true, () => false);

let dir: string;
const cleanups: (() => Promise<void>)[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-edges-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  for (const cleanup of cleanups) await cleanup();
});

/** A repository of simple, identity and an ensemble `pipeline` whose one step is simple. */
async function repository(): Promise<string> {
  const repo = await makeRepository({
    simple: { versions: { 1: simpleModel() } },
    identity: { versions: { 1: identityModel('INT32') } },
    pipeline: {
      config: {
        platform: 'ensemble', max_batch_size: 4, input: [t('A'), t('B')], output: [t('SUM')],
        ensemble_scheduling: { step: [{ model_name: 'simple', input_map: { INPUT0: 'A', INPUT1: 'B' }, output_map: { OUTPUT0: 'SUM' } }] },
      },
      versions: { 1: '' },
      filename: '.keep',
    },
  });
  cleanups.push(repo.cleanup);
  return repo.root;
}

const batch = (repo: string, model: string, input: string, output: string, extra: string[] = []) =>
  ['batch', '--model-repository', repo, '--model', model, '--input', input, '--output', output, '--progress', 'none', ...extra];

describe('vireo batch: options at the edges', () => {
  let repo: string;
  let input: string;
  before(async () => {
    repo = await repository();
    input = join(dir, 'three.jsonl');
    await writeFile(input, requests(3));
  });

  it('--version after the command is the model version; vireo --version and -v still print the program\'s', async () => {
    const output = join(dir, 'out-version');
    const run = await vireo(batch(repo, 'simple', input, output, ['--version', '1']));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(summary(run).rows, 3);
    assert.equal(JSON.parse(await readFile(join(output, 'job.json'), 'utf8')).version, '1');
    const missing = await vireo(batch(repo, 'simple', input, join(dir, 'out-version-2'), ['--version', '2']));
    assert.equal(missing.code, 3);
    assertOneLine(missing, /'simple' version 2 is not found/);

    const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) assert.equal((await vireo([flag])).stdout.trim(), version);
    // Other commands still parse their own options.
    const serveHelp = await vireo(['serve', '--help']);
    assert.equal(serveHelp.code, 0);
    assert.match(serveHelp.stdout, /--http-port/);
  });

  it('a comma is part of an --input path or glob; --input repeats; VIREO_INPUT lists one per line', async () => {
    const comma = join(dir, 'a,b.jsonl');
    const other = join(dir, 'c.jsonl');
    await writeFile(comma, requests(2));
    await writeFile(other, requests(5));
    const globbed = join(dir, 'globbed');
    await mkdir(globbed);
    for (const [name, rows] of [['x', 1], ['y', 4], ['z', 8]] as const) await writeFile(join(globbed, `${name}.jsonl`), requests(rows));

    const one = await vireo(batch(repo, 'simple', comma, join(dir, 'out-comma')));
    assert.equal(one.code, 0, one.stderr);
    assert.equal(summary(one).rows, 2);
    const lines = await outputLines(join(dir, 'out-comma'));
    assert.deepEqual(lines.map((l) => l.response.body.outputs.find((o: any) => o.name === 'OUTPUT0').data),
      [0, 1].map((i) => Array.from({ length: 16 }, (_, k) => i + k + 2 * i)));

    const glob = await vireo(batch(repo, 'simple', join(globbed, '{x,y}.jsonl'), join(dir, 'out-glob')));
    assert.equal(glob.code, 0, glob.stderr);
    assert.equal(summary(glob).rows, 1 + 4);

    const repeated = await vireo([...batch(repo, 'simple', comma, join(dir, 'out-repeated')), '--input', other]);
    assert.equal(repeated.code, 0, repeated.stderr);
    assert.equal(summary(repeated).rows, 2 + 5);

    const args = batch(repo, 'simple', '', join(dir, 'out-env')).filter((a, i, all) => a !== '--input' && all[i - 1] !== '--input');
    const fromEnv = await vireo(args, { VIREO_INPUT: `${comma}\n${other}\n` });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(summary(fromEnv).rows, 2 + 5);
  });

  it('a shard the environment gets wrong: one line and the exit code of a bad --shard, nothing started', async () => {
    const reference = await vireo(batch(repo, 'simple', input, join(dir, 'out-bad-shard'), ['--shard', '3/2']));
    assert.notEqual(reference.code, 0);
    assertOneLine(reference, /^error: option '--shard <i\/N>' argument '3\/2' is invalid/);
    const cases: [Record<string, string>, RegExp][] = [
      [{ JOB_COMPLETION_INDEX: '1' }, /^error: JOB_COMPLETION_INDEX is set \(1\) but the shard count is not: give --shard-count \(VIREO_SHARD_COUNT\)$/],
      [{ JOB_COMPLETION_INDEX: '5', VIREO_SHARD_COUNT: '2' }, /^error: JOB_COMPLETION_INDEX 5 is not a shard of --shard-count 2 .*from 0 to 1$/],
      [{ JOB_COMPLETION_INDEX: 'abc', VIREO_SHARD_COUNT: '2' }, /^error: JOB_COMPLETION_INDEX abc is not a shard of --shard-count 2/],
    ];
    for (const [env, pattern] of cases) {
      const output = join(dir, `out-env-shard-${env.JOB_COMPLETION_INDEX}`);
      const run = await vireo(batch(repo, 'simple', input, output), env);
      assert.equal(run.code, reference.code, run.stderr);
      assertOneLine(run, pattern);
      assert.equal(await exists(output), false, 'refused before the output folder is made');
    }
  });

  it('a busy --metrics-port: one line naming it, the exit code of a start-up refusal, and the process exits', async () => {
    const reference = await vireo(batch(join(dir, 'no-such-repository'), 'simple', input, join(dir, 'out-no-repo')));
    assertOneLine(reference, /the model repository .* does not exist/);
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as { port: number }).port;
      const run = await vireo(batch(repo, 'simple', input, join(dir, 'out-busy'), ['--metrics-port', String(port)]));
      assert.equal(run.killed, false, 'exits by itself');
      assert.equal(run.code, reference.code, run.stderr);
      assertOneLine(run, new RegExp(`^vireo batch: --metrics-port ${port} on 127\\.0\\.0\\.1: the port is already in use \\(VIREO_ERR_CONFIG_INVALID\\)$`));
      assert.equal(run.stdout, '', 'no summary: no job ran');
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});

describe('vireo batch: the models a job\'s identity covers', () => {
  it('an unrelated model added or changed, or --load-model, does not refuse a finished job; a change of its model does, naming it', async () => {
    const repo = await repository();
    const input = join(dir, 'six.jsonl');
    await writeFile(input, requests(6));
    const output = join(dir, 'out-identity');
    const first = await vireo(batch(repo, 'simple', input, output, ['--part-rows', '4']));
    assert.equal(first.code, 0, first.stderr);
    assert.equal(summary(first).rows, 6);

    await writeModel(repo, 'extra', { versions: { 1: identityModel('INT32') } });
    await writeFile(join(repo, 'identity', '1', 'notes.txt'), 'unrelated');
    for (const extra of [[], ['--load-model', 'identity']]) {
      const again = await vireo(batch(repo, 'simple', input, output, ['--part-rows', '4', ...extra]));
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual([summary(again).rows, summary(again).resumedRows], [0, 6]);
    }

    await writeFile(join(repo, 'simple', '1', 'notes.txt'), 'changed');
    const refused = await vireo(batch(repo, 'simple', input, output, ['--part-rows', '4']));
    assert.equal(refused.code, 3);
    assertOneLine(refused, /holds the output of a different job \(changed: the files of model "simple" \(1\/notes\.txt\)\); use another output folder, or --restart/);
  });

  it('an ensemble\'s job covers its steps: a changed step is named, another model is not counted', async () => {
    const repo = await repository();
    const input = join(dir, 'pipeline.jsonl');
    await writeFile(input, requests(5, ['A', 'B']));
    const output = join(dir, 'out-pipeline');
    const first = await vireo(batch(repo, 'pipeline', input, output));
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual((await outputLines(output)).map((l) => l.response.body.outputs[0].data),
      [0, 1, 2, 3, 4].map((i) => Array.from({ length: 16 }, (_, k) => i + k + 2 * i)));

    await writeFile(join(repo, 'identity', '1', 'notes.txt'), 'unrelated');
    const again = await vireo(batch(repo, 'pipeline', input, output));
    assert.equal(again.code, 0, again.stderr);
    assert.equal(summary(again).resumedRows, 5);

    await writeFile(join(repo, 'simple', '1', 'notes.txt'), 'changed');
    const refused = await vireo(batch(repo, 'pipeline', input, output));
    assert.equal(refused.code, 3);
    assertOneLine(refused, /\(changed: the files of model "simple" \(1\/notes\.txt\)\)/);
  });
});
