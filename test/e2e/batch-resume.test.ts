/**
 * Exactly once under `kill -9`: the `vireo batch` command is killed (SIGKILL, no chance to clean up)
 * at several points of one job — before any part, after a few, after many, each run resuming the
 * last — and the final output folder must equal, file for file and byte for byte, the output of one
 * uninterrupted run: no row lost, none twice, no debris. Also over the CLI: --help lists every
 * option with its environment variable, and JOB_COMPLETION_INDEX picks the shard.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const root = join(import.meta.dirname, '..', '..');
const vireo = join(root, 'bin', 'vireo.js');
let dir: string;
let repo: string;
let input: string;

const ROWS = 20_000;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-resume-'));
  repo = join(dir, 'models');
  await mkdir(repo);
  await symlink(join(root, 'examples', 'models', 'simple'), join(repo, 'simple'));
  input = join(dir, 'requests.jsonl');
  const lines = Array.from({ length: ROWS }, (_, i) => {
    const data = Array.from({ length: 16 }, (_, k) => (i * 31 + k) % 1000);
    // Every 997th line is bad: errors must be exactly once too.
    if (i % 997 === 5) return '{"custom_id": "bad"';
    return JSON.stringify({ custom_id: `r${i}`, body: { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data }] } });
  });
  await writeFile(input, `${lines.join('\n')}\n`);
});
after(() => rm(dir, { recursive: true, force: true }));

const args = (output: string, extra: string[] = []) => ['batch', '--model-repository', repo, '--model', 'simple', '--input', input, '--output', output, '--part-rows', '200', '--progress', 'none', ...extra];

function start(output: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []): ChildProcess {
  return spawn(process.execPath, [vireo, ...args(output, extra)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function finished(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

async function committedParts(output: string): Promise<number> {
  try {
    return (await readdir(join(output, 'parts'))).filter((f) => f.endsWith('.manifest.json')).length;
  } catch {
    return 0;
  }
}

/** Runs the job and kills it with SIGKILL once `parts` parts are committed (0: as soon as it started writing). */
async function runAndKill(output: string, parts: number): Promise<void> {
  const child = start(output);
  const done = finished(child);
  let exited = false;
  void done.then(() => { exited = true; });
  for (;;) {
    if (exited) break;
    const committed = await committedParts(output);
    if (committed >= parts && (parts > 0 || committed > 0 || (await readdir(join(output, 'parts')).catch(() => [])).length > 0)) break;
    await new Promise((r) => setTimeout(r, 3));
  }
  child.kill('SIGKILL');
  const result = await done;
  assert.ok(result.signal === 'SIGKILL' || result.code === 0, `killed or finished: ${result.stderr}`);
}

/** Every file of the output (parts and job.json), name → bytes; the summary records times, so it is left out. */
async function snapshot(output: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of (await readdir(join(output, 'parts'))).sort()) files.set(`parts/${name}`, await readFile(join(output, 'parts', name), 'utf8'));
  files.set('job.json', await readFile(join(output, 'job.json'), 'utf8'));
  return files;
}

describe('vireo batch: kill -9 and rerun', () => {
  it('ends with output equal, byte for byte, to an uninterrupted run', async () => {
    const reference = join(dir, 'reference');
    const clean = await finished(start(reference));
    assert.equal(clean.code, 0, clean.stderr);
    const summary = JSON.parse(clean.stdout);
    assert.equal(summary.rows, ROWS);
    assert.equal(summary.errors, 21);

    const output = join(dir, 'interrupted');
    // Kill points: while the first part is being written, then after 3, 20 and 60 committed parts.
    for (const parts of [0, 3, 20, 60]) await runAndKill(output, parts);
    const killedAt = await committedParts(output);
    assert.ok(killedAt >= 60 && killedAt < 100, `the last kill left work to do (${killedAt} of 100 parts committed)`);
    const last = await finished(start(output));
    assert.equal(last.code, 0, last.stderr);
    const resumed = JSON.parse(last.stdout);
    assert.equal(resumed.rows + resumed.resumedRows, ROWS);
    assert.ok(resumed.resumedRows >= 60 * 200);

    const [want, got] = [await snapshot(reference), await snapshot(output)];
    assert.deepEqual([...got.keys()], [...want.keys()]);
    for (const [name, bytes] of want) assert.ok(got.get(name) === bytes, `${name} differs`);
    // Row for row: every id exactly once, in input order.
    const ids = [...got].filter(([n]) => n.endsWith('.jsonl') && !n.endsWith('.errors.jsonl')).flatMap(([, text]) => text.trim().split('\n').map((l) => JSON.parse(l).custom_id));
    assert.equal(ids.length, ROWS - 21);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('without --part-rows, a rerun keeps the part size the job began with (a job begun before the default changed still resumes)', async () => {
    const output = join(dir, 'part-size');
    const clean = await finished(start(output));
    assert.equal(clean.code, 0, clean.stderr);
    const want = await snapshot(output);
    // The last 10 parts uncommitted, as a job stopped before them leaves them.
    const manifests = (await readdir(join(output, 'parts'))).filter((f) => f.endsWith('.manifest.json')).sort().slice(-10);
    for (const name of manifests) await rm(join(output, 'parts', name));
    const withoutPartRows = args(output).filter((a, i, all) => a !== '--part-rows' && all[i - 1] !== '--part-rows');
    const resumed = spawnSync(process.execPath, [vireo, ...withoutPartRows], { encoding: 'utf8' });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(JSON.parse(resumed.stdout).resumedRows, ROWS - 10 * 200);
    const got = await snapshot(output);
    assert.deepEqual([...got.keys()], [...want.keys()]);
    for (const [name, bytes] of want) assert.ok(got.get(name) === bytes, `${name} differs`);
    // Another part size said out loud is another job: refused unless --restart.
    const other = spawnSync(process.execPath, [vireo, ...withoutPartRows, '--part-rows', '400'], { encoding: 'utf8' });
    assert.equal(other.status, 3, other.stderr);
    assert.match(other.stderr, /partRows/);
  });

  it('JOB_COMPLETION_INDEX with --shard-count picks the shard; without the count it is refused', async () => {
    const output = join(dir, 'indexed');
    const one = await finished(start(output, { JOB_COMPLETION_INDEX: '1', VIREO_SHARD_COUNT: '2' }, ['--block-size', '65536']));
    assert.equal(one.code, 0, one.stderr);
    assert.equal(JSON.parse(one.stdout).shard, '1/2');
    const files = await readdir(join(output, 'parts'));
    assert.ok(files.length > 0 && files.every((f) => Number(/-b(\d+)-/.exec(f)![1]) % 2 === 1), 'only odd blocks (file 0 + block ≡ 1 mod 2)');
    assert.ok((await readdir(output)).includes('summary-1-of-2.json'));
    const refused = spawnSync(process.execPath, [vireo, ...args(join(dir, 'no-count'))], { env: { ...process.env, JOB_COMPLETION_INDEX: '0' }, encoding: 'utf8' });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /--shard-count/);
  });

  it('a model repository that is missing or a file: one line naming it, exit 3, no stack trace', async () => {
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    for (const [path, why] of [[join(dir, 'no-such-dir'), 'does not exist'], [file, 'is not a directory']] as const) {
      const run = spawnSync(process.execPath, [vireo, 'batch', '--model-repository', path, '--model', 'simple', '--input', input, '--output', join(dir, 'refused'), '--progress', 'none'], { encoding: 'utf8' });
      assert.equal(run.status, 3, run.stderr);
      assert.equal(run.stderr.trim(), `vireo batch: the model repository ${path} ${why} (VIREO_ERR_CONFIG_INVALID)`);
    }
  });

  it('an output folder that cannot be made: one line naming it, exit 3 (under /proc Node’s own recursive mkdir never returned)', { timeout: 60_000 }, async () => {
    const file = join(dir, 'output-is-a-file');
    await writeFile(file, 'x');
    const outputs = [file, join(file, 'sub'), ...(process.platform === 'linux' ? ['/proc/vireo-no-such-output'] : [])];
    for (const output of outputs) {
      const run = spawnSync(process.execPath, [vireo, ...args(output)], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 3, `${output}: ${run.stderr}`);
      const lines = run.stderr.trim().split('\n').filter((line) => !line.startsWith('{'));
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0]!, new RegExp(`^vireo batch: the output folder ${output} cannot be made: E[A-Z]+: .* \\(VIREO_ERR_BATCH_OUTPUT_INVALID\\)$`));
      assert.doesNotMatch(run.stderr, /model loaded/, 'refused before any model loads');
    }
  });

  it('a line longer than --max-file-bytes stops the job with its number, without reading it whole', () => {
    const run = spawnSync(process.execPath, [vireo, ...args(join(dir, 'long-lines'), ['--max-file-bytes', '100'])], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 3, run.stderr);
    const lines = run.stderr.trim().split('\n').filter((line) => !line.startsWith('{'));
    assert.deepEqual(lines, [`vireo batch: ${input}: line 1 is longer than 100 bytes, the most one row may read (--max-file-bytes) (VIREO_ERR_BATCH_INPUT_INVALID)`]);
  });

  it('--help names every option with its environment variable', () => {
    const help = spawnSync(process.execPath, [vireo, 'batch', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    for (const flag of ['--model-repository', '--input', '--output', '--input-format', '--output-format', '--batch-size', '--shard', '--max-errors', '--id-column', '--restart', '--metrics-port']) {
      const line = help.stdout.split('\n').find((l) => l.trim().startsWith(flag));
      assert.ok(line, `${flag} is in --help`);
    }
    const options = help.stdout.split('\n').filter((l) => /^\s+--/.test(l) && !l.includes('--help'));
    const text = help.stdout.replace(/\n\s+/g, ' ');
    for (const line of options) {
      const flag = /--([a-z-]+)/.exec(line)![1]!;
      const name = flag === 'version' ? 'MODEL_VERSION' : flag.replace(/-/g, '_').toUpperCase();
      assert.ok(text.includes(`env: VIREO_${name}`), `--${flag} has VIREO_${name}`);
    }
  });
});
