/**
 * Which rows `vireo batch` reads and the ids it gives them, over real files: a CSV row's id is its
 * position among the rows (blank lines, whitespace-only ones included, are not rows), the same whichever
 * shard reads it at any block size; a glob's ids are relative to its base whatever the working
 * directory (the CLI run from two of them resumes); links in an input folder are read, cycles once.
 * Expected values: the MLP's reference implementation, and the files' own bytes through an identity model.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { runBatch, type RunBatchOptions } from '../../src/app/run-batch.js';
import { silentLogger } from '../../src/logging/logger.js';
import { identityModel, mlpReference } from '../../tools/modelgen/models.js';
import { TABULAR_SEED, TABULAR_SIZES } from '../../tools/prepare-examples.js';

const root = join(import.meta.dirname, '..', '..');
let dir: string;
let repo: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-inputs-'));
  repo = join(dir, 'models');
  await mkdir(join(repo, 'echo', '1'), { recursive: true });
  await symlink(join(root, 'examples', 'models', 'tabular'), join(repo, 'tabular'));
  // Each file's bytes back as they were read: what the row got is checked against the file.
  await writeFile(join(repo, 'echo', '1', 'model.onnx'), identityModel('STRING', ['batch', 1]));
  await writeFile(join(repo, 'echo', 'config.yaml'), 'backend: onnx\nmax_batch_size: 8\ninput: [{ name: INPUT, data_type: TYPE_STRING, dims: [1] }]\noutput: [{ name: OUTPUT, data_type: TYPE_STRING, dims: [1] }]\n');
});
after(() => rm(dir, { recursive: true, force: true }));

const job = (options: Partial<RunBatchOptions> & Pick<RunBatchOptions, 'model' | 'inputs' | 'output'>) =>
  runBatch({ modelRepository: repo, logger: silentLogger(), loadModels: [options.model], outputFormat: 'jsonl', ...options });

type Answer = { custom_id: string; response: { body: { outputs: { data: unknown[] }[] } } };

async function answers(output: string): Promise<Answer[]> {
  const found: Answer[] = [];
  for (const file of (await readdir(join(output, 'parts'))).sort().filter((f) => f.endsWith('.jsonl') && !f.endsWith('.errors.jsonl'))) {
    for (const line of (await readFile(join(output, 'parts', file), 'utf8')).split('\n')) if (line) found.push(JSON.parse(line) as Answer);
  }
  return found;
}

it('a CSV row\'s id is its position among the rows, blank lines not counted, whichever shard reads it at any block size', async () => {
  const features = (i: number) => [1 + (i % 7), 2 + (i % 5) / 4, 3 - (i % 3) / 2, (i % 11) / 10];
  // Blank lines of every kind the reader skips: empty, spaces and tabs, CRLF, Unicode spaces (NBSP,
  // ideographic space, a stray BOM), and runs of them longer than a block, so they straddle block starts.
  const blanks = ['', '   ', '\t', '\r', '\u00a0', ' \u3000 ', '\ufeff', ' '.repeat(150), `${'\u00a0'.repeat(40)}\r`];
  const lines = ['sepal_length,sepal_width,petal_length,petal_width'];
  const rows: number[][] = [];
  for (let i = 0; i < 120; i++) {
    if (i % 4 === 1) lines.push(blanks[i % blanks.length]!, blanks[(i + 3) % blanks.length]!);
    rows.push(features(i));
    // A row that starts with a character beyond ASCII is a row, though it starts like a blank line.
    lines.push(i % 10 === 7 ? `\u00a0${features(i).join(',')}` : features(i).join(','));
  }
  await writeFile(join(dir, 'blanks.csv'), `${lines.join('\n')}\n`);
  const expected = mlpReference(TABULAR_SIZES, TABULAR_SEED, Float32Array.from(rows.flat()), rows.length);
  const check = async (output: string, what: string) => {
    const got = await answers(output);
    assert.deepEqual(got.map((a) => a.custom_id), rows.map((_, i) => String(i)), what);
    for (const a of got) {
      const i = Number(a.custom_id);
      (a.response.body.outputs[0]!.data as number[]).forEach((v, k) => assert.ok(Math.abs(v - expected[i * 3 + k]!) < 1e-4, `${what}, row ${i}`));
    }
  };
  await job({ model: 'tabular', inputs: [join(dir, 'blanks.csv')], output: join(dir, 'out-blanks'), partRows: 16 });
  await check(join(dir, 'out-blanks'), 'one block');
  for (const blockBytes of [64, 97]) {
    const output = join(dir, `out-blanks-${blockBytes}`);
    for (let index = 0; index < 3; index++) await job({ model: 'tabular', inputs: [join(dir, 'blanks.csv')], output, partRows: 16, blockBytes, shard: { index, count: 3 } });
    await check(output, `3 shards, blocks of ${blockBytes} bytes`);
  }
});

it('a glob\'s ids are relative to its base, so the same command from another working directory resumes', async () => {
  const scans = join(dir, 'data', 'scans');
  await mkdir(join(scans, 'sub'), { recursive: true });
  const files: Record<string, string> = { 'a.txt': 'first', 'b.txt': 'second', 'sub/c.txt': 'third' };
  for (const [name, text] of Object.entries(files)) await writeFile(join(scans, name), text);
  const run = (cwd: string, pattern: string, output: string) => spawnSync(process.execPath, [join(root, 'bin', 'vireo.js'), 'batch', '--model-repository', repo, '--model', 'echo', '--input', pattern, '--input-format', 'images', '--output', output, '--progress', 'none'], { cwd, encoding: 'utf8' });
  const output = join(dir, 'out-glob');
  const first = run(root, join(scans, '**', '*.txt'), output);
  assert.equal(first.status, 0, first.stderr);
  const got = await answers(output);
  assert.deepEqual(got.map((a) => [a.custom_id, a.response.body.outputs[0]!.data[0]]), Object.entries(files));
  const again = run(dir, join(scans, '**', '*.txt'), output);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).resumedRows, 3);
  // A relative glob: relative to its own base too, not to the working directory.
  const relative = run(join(dir, 'data'), 'scans/*.txt', join(dir, 'out-glob-relative'));
  assert.equal(relative.status, 0, relative.stderr);
  assert.deepEqual((await answers(join(dir, 'out-glob-relative'))).map((a) => a.custom_id), ['a.txt', 'b.txt']);
});

it('links in an input folder are read as what they lead to, under the link\'s path; a linked folder that loops is not read twice', async () => {
  const folder = join(dir, 'linked');
  await mkdir(join(folder, 'sub'), { recursive: true });
  await mkdir(join(dir, 'elsewhere', 'more'), { recursive: true });
  await writeFile(join(folder, 'a.txt'), 'plain');
  await writeFile(join(folder, 'sub', 's.txt'), 'nested');
  await writeFile(join(dir, 'elsewhere', 'o.txt'), 'outside');
  await writeFile(join(dir, 'elsewhere', 'more', 'm.txt'), 'outside folder');
  await symlink(join(dir, 'elsewhere', 'o.txt'), join(folder, 'link.txt'));
  await symlink(join(dir, 'elsewhere', 'more'), join(folder, 'linkdir'));
  await symlink(folder, join(folder, 'sub', 'loop'));
  await symlink(join(folder, 'sub'), join(folder, 'alias'));
  await symlink(dir, join(folder, 'up'));
  const output = join(dir, 'out-linked');
  const summary = await job({ model: 'echo', inputs: [folder], inputFormat: 'images', output });
  assert.equal(summary.errors, 0);
  const got = await answers(output);
  assert.deepEqual(got.map((a) => [a.custom_id, a.response.body.outputs[0]!.data[0]]), [
    ['a.txt', 'plain'], ['link.txt', 'outside'], ['linkdir/m.txt', 'outside folder'], ['sub/s.txt', 'nested'],
  ]);
});

it('a cell beyond the range of the FP32 input fails its row alone, from CSV, Arrow and Parquet doubles alike', async () => {
  const features = (i: number) => [1 + (i % 7), 2 + (i % 5) / 4, 3 - (i % 3) / 2, (i % 11) / 10];
  const rows = Array.from({ length: 40 }, (_, i) => features(i));
  const bad = new Map([[5, 1e39], [23, -3.5e38]]); // row → its petal_length
  const cells = rows.map((r, i) => (bad.has(i) ? [r[0]!, r[1]!, bad.get(i)!, r[3]!] : r));
  const columns = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
  await writeFile(join(dir, 'overflow.csv'), `${columns.join(',')}\n${cells.map((r) => r.join(',')).join('\n')}\n`);
  const { tableFromArrays, tableToIPC } = await import('apache-arrow');
  const doubles = Object.fromEntries(columns.map((c, j) => [c, Float64Array.from(cells.map((r) => r[j]!))]));
  await writeFile(join(dir, 'overflow.arrow'), tableToIPC(tableFromArrays(doubles), 'file'));
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  await writeFile(join(dir, 'overflow.parquet'), new Uint8Array(parquetWriteBuffer({ columnData: columns.map((name, j) => ({ name, data: doubles[name]!, type: 'DOUBLE' as const })) })));
  const expected = mlpReference(TABULAR_SIZES, TABULAR_SEED, Float32Array.from(rows.flat()), rows.length);
  for (const format of ['csv', 'arrow', 'parquet']) {
    const output = join(dir, `out-overflow-${format}`);
    const summary = await job({ model: 'tabular', inputs: [join(dir, `overflow.${format}`)], output, partRows: 16 });
    assert.equal(summary.errors, 2, format);
    const got = await answers(output);
    assert.deepEqual(got.map((a) => Number(a.custom_id)), rows.map((_, i) => i).filter((i) => !bad.has(i)), format);
    for (const a of got) {
      const i = Number(a.custom_id);
      (a.response.body.outputs[0]!.data as number[]).forEach((v, k) => assert.ok(Math.abs(v - expected[i * 3 + k]!) < 1e-4, `${format}, row ${i}`));
    }
    const errors: { custom_id: string; error: { message: string } }[] = [];
    for (const file of (await readdir(join(output, 'parts'))).sort().filter((f) => f.endsWith('.errors.jsonl'))) {
      for (const line of (await readFile(join(output, 'parts', file), 'utf8')).split('\n')) if (line) errors.push(JSON.parse(line));
    }
    assert.deepEqual(errors.map((e) => e.custom_id), ['5', '23'], format);
    for (const e of errors) assert.match(e.error.message, /beyond the range of FP32/, format);
  }
});
