/**
 * A Kubernetes Indexed Job, played with podman on this machine: containers of a `vireo build` image,
 * each with its own JOB_COMPLETION_INDEX (and VIREO_SHARD_COUNT), run `vireo batch` over one shared input
 * folder into one shared output folder; their merged output must equal, file for file, a single
 * container's run. Then one shard is killed mid-way (SIGKILL) and started again: still equal.
 * Skipped, saying why, where buildah, podman or runc is missing.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PODMAN, STORAGE, buildBaseImage, missingContainerTools, sh } from '../helpers/container-images.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const BASE = `localhost/vireo-batch-base:node${process.versions.node}-${process.pid}`;
const IMAGE = `localhost/vireo-batch-e2e:test-${process.pid}`;
const SHARDS = 3;
const ROWS = 30_000;

const skip = missingContainerTools('batch container test');
if (skip) console.log(`# ${skip}`);

describe('vireo batch in podman containers as an Indexed Job', { skip, timeout: 1_200_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'vireo-batch-container-'));
  const input = join(work, 'input');
  const names: string[] = [];

  /** `podman run` of the image's `vireo batch` over /data into /out/<output>; JOB_COMPLETION_INDEX when given. */
  function batchArgs(name: string, output: string, index?: number): string[] {
    names.push(name);
    return [...PODMAN, 'run', '--name', name, '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=512:512',
      '-v', `${input}:/data:ro`, '-v', `${join(work, 'out')}:/out`,
      ...(index === undefined ? [] : ['-e', `JOB_COMPLETION_INDEX=${index}`, '-e', `VIREO_SHARD_COUNT=${SHARDS}`]),
      '--entrypoint', JSON.stringify(['node', '/opt/vireo/bin/vireo.js', 'batch']), IMAGE,
      '--model', 'simple', '--input', '/data/requests.jsonl', '--output', `/out/${output}`, '--part-rows', '200', '--block-size', '131072', '--progress', 'log', '--progress-interval', '60'];
  }

  function snapshot(output: string): Map<string, string> {
    const dir = join(work, 'out', output);
    const files = new Map<string, string>([['job.json', readFileSync(join(dir, 'job.json'), 'utf8')]]);
    for (const name of readdirSync(join(dir, 'parts')).sort()) files.set(name, readFileSync(join(dir, 'parts', name), 'utf8'));
    return files;
  }

  function assertSameOutput(output: string, reference: string): void {
    const [got, want] = [snapshot(output), snapshot(reference)];
    assert.deepEqual([...got.keys()], [...want.keys()]);
    for (const [name, text] of want) assert.ok(got.get(name) === text, `${name} differs`);
  }

  before(async () => {
    mkdirSync(input);
    mkdirSync(join(work, 'out'));
    chmodSync(join(work, 'out'), 0o777); // the image runs as 65532
    const lines = Array.from({ length: ROWS }, (_, i) => {
      const data = Array.from({ length: 16 }, (_, k) => (i * 17 + k) % 500);
      return i % 1009 === 3 ? '{"custom_id": "broken"' : JSON.stringify({ custom_id: `r${i}`, body: { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data }] } });
    });
    writeFileSync(join(input, 'requests.jsonl'), `${lines.join('\n')}\n`);
    const repo = join(work, 'models');
    mkdirSync(repo);
    cpSync(join(root, 'examples', 'models', 'simple'), join(repo, 'simple'), { recursive: true }); // vireo build packs directories, not links
    buildBaseImage(BASE);
    await run(process.execPath, [join(root, 'bin/vireo.js'), 'build', '--model-repository', repo, '--tag', IMAGE, '--base', BASE,
      '--storage-driver', 'vfs', '--isolation', 'chroot'], { cwd: root, maxBuffer: 16 << 20 });
  });

  after(() => {
    for (const name of names) spawnSync('podman', [...PODMAN, 'rm', '-f', name], { stdio: 'ignore' });
    spawnSync('buildah', [...STORAGE, 'rmi', '-f', IMAGE, BASE], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  });

  it(`${SHARDS} containers with their own JOB_COMPLETION_INDEX produce the single container's output; a killed shard reruns to the same`, async () => {
    sh('podman', batchArgs(`vireo-batch-single-${process.pid}`, 'single'));
    const single = JSON.parse(readFileSync(join(work, 'out', 'single', 'summary.json'), 'utf8'));
    assert.equal(single.rows, ROWS);
    assert.equal(single.errors, 30);

    // All shards at once, as the Job's pods would run; shard 1 is killed with SIGKILL once it committed a few parts.
    const started = Array.from({ length: SHARDS }, (_, index) => {
      const child = spawn('podman', batchArgs(`vireo-batch-shard${index}-${process.pid}`, 'sharded', index), { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => { stderr += d; });
      return new Promise<{ index: number; code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ index, code, stderr })));
    });
    const shardParts = () => {
      try {
        return readdirSync(join(work, 'out', 'sharded', 'parts')).filter((f) => f.endsWith('.manifest.json') && Number(/-b(\d+)-/.exec(f)![1]) % SHARDS === 1).length;
      } catch {
        return 0;
      }
    };
    while (shardParts() < 5) await new Promise((r) => setTimeout(r, 20));
    sh('podman', [...PODMAN, 'kill', '--signal', 'KILL', `vireo-batch-shard1-${process.pid}`]);
    const results = await Promise.all(started);
    for (const r of results) {
      if (r.index === 1) assert.notEqual(r.code, 0, 'shard 1 was killed before it finished');
      else assert.equal(r.code, 0, r.stderr);
    }
    const partial = shardParts();
    assert.ok(partial >= 5, `shard 1 committed ${partial} parts before the kill`);
    const partsDir = join(work, 'out', 'sharded', 'parts');
    const committedRows = readdirSync(partsDir).filter((f) => f.endsWith('.manifest.json') && Number(/-b(\d+)-/.exec(f)![1]) % SHARDS === 1)
      .reduce((n, f) => n + JSON.parse(readFileSync(join(partsDir, f), 'utf8')).rows, 0);

    // The Job's retry of index 1: a new container, the same command.
    sh('podman', batchArgs(`vireo-batch-shard1-again-${process.pid}`, 'sharded', 1));
    const again = JSON.parse(readFileSync(join(work, 'out', 'sharded', `summary-1-of-${SHARDS}.json`), 'utf8'));
    assert.equal(again.resumedRows, committedRows, `the rerun resumed exactly the committed parts: ${JSON.stringify(again)}`);
    const totals = [0, 1, 2].map((i) => JSON.parse(readFileSync(join(work, 'out', 'sharded', `summary-${i}-of-${SHARDS}.json`), 'utf8')));
    assert.equal(totals.reduce((n, s) => n + s.rows + s.resumedRows, 0), ROWS);
    assertSameOutput('sharded', 'single');
  });
});
