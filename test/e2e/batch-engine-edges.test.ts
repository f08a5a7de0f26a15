/**
 * Edges of `vireo batch` found by an audit, over real files and the real engine (runBatch, the CLI's
 * composition root, or the CLI itself where the exit code is the point): --restart discards only what
 * the job wrote; bytes that are not UTF-8 fail their row (a header that is not is refused, exit 3);
 * --max-errors holds on a rerun; `--id-column id` keeps both id columns; an empty Parquet file is
 * refused by name. Expected values come from the MLP's reference implementation, not from Vireo.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { parquetReadObjects } from 'hyparquet';
import { runBatch, type RunBatchOptions } from '../../src/app/run-batch.js';
import type { VireoError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/logging/logger.js';
import { mlpReference } from '../../tools/modelgen/models.js';
import { TABULAR_SEED, TABULAR_SIZES } from '../../tools/prepare-examples.js';

const root = join(import.meta.dirname, '..', '..');
const HEADER = 'sepal_length,sepal_width,petal_length,petal_width';
let dir: string;
let repo: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-edges-'));
  repo = join(dir, 'models');
  await mkdir(repo);
  for (const model of ['simple', 'tabular']) await symlink(join(root, 'examples', 'models', model), join(repo, model));
});
after(() => rm(dir, { recursive: true, force: true }));

const job = (options: Partial<RunBatchOptions> & Pick<RunBatchOptions, 'inputs' | 'output'>) =>
  runBatch({ modelRepository: repo, logger: silentLogger(), model: 'tabular', loadModels: [options.model ?? 'tabular'], ...options });
const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'vireo.js'), 'batch', '--model-repository', repo, '--progress', 'none', ...args], { encoding: 'utf8' });
/** What the CLI says last on stderr (its log lines come before). */
const lastLine = (stderr: string) => stderr.trim().split('\n').at(-1);
const features = (i: number) => [1 + (i % 7), 2 + (i % 5) / 4, 3 - (i % 3) / 2, (i % 11) / 10];
const expectedRow = (i: number) => Array.from(mlpReference(TABULAR_SIZES, TABULAR_SEED, Float32Array.from(features(i)), 1));
const sorted = async (folder: string) => (await readdir(folder)).sort();

async function lines(output: string, suffix: string): Promise<Record<string, unknown>[]> {
  const found = [];
  for (const file of (await sorted(join(output, 'parts'))).filter((f) => f.endsWith(suffix) && (suffix === '.errors.jsonl' || !f.endsWith('.errors.jsonl')))) {
    for (const line of (await readFile(join(output, 'parts', file), 'utf8')).split('\n')) if (line) found.push(JSON.parse(line) as Record<string, unknown>);
  }
  return found;
}

function assertRow(values: ArrayLike<number>, i: number): void {
  expectedRow(i).forEach((v, k) => assert.ok(Math.abs(values[k]! - v) < 1e-4, `row ${i}[${k}]: ${values[k]} vs ${v}`));
}

it('--restart removes the job\'s own files only: never a foreign file, nor the committed parts of other shards of the same job', async () => {
  const input = join(dir, 'restart.csv');
  await writeFile(input, `${HEADER}\n${Array.from({ length: 60 }, (_, i) => features(i).join(',')).join('\n')}\n`);
  const output = join(dir, 'out-restart');
  await mkdir(join(output, 'parts'), { recursive: true });
  await writeFile(join(output, 'thesis.txt'), 'years of work');
  await writeFile(join(output, 'parts', 'notes.txt'), 'mine too');
  const shards = [0, 1].map((index) => ({ index, count: 2 }));
  const options = { inputs: [input], output, blockBytes: 256, partRows: 8 };
  for (const shard of shards) await job({ ...options, shard });
  const theirs = (await sorted(join(output, 'parts'))).filter((f) => /^f00000-b\d*[13579]-/.test(f));
  assert.ok(theirs.length > 0, 'shard 1 committed parts');
  const before = await Promise.all(theirs.map((f) => readFile(join(output, 'parts', f))));
  const summaryBefore = await readFile(join(output, 'summary-1-of-2.json'));

  const again = await job({ ...options, shard: shards[0], restart: true });
  assert.equal(again.resumedRows, 0, 'shard 0 ran its rows again');
  assert.ok(again.rows > 0);
  assert.deepEqual(await Promise.all(theirs.map((f) => readFile(join(output, 'parts', f)))), before);
  assert.deepEqual(await readFile(join(output, 'summary-1-of-2.json')), summaryBefore);
  assert.equal(await readFile(join(output, 'thesis.txt'), 'utf8'), 'years of work');
  assert.equal(await readFile(join(output, 'parts', 'notes.txt'), 'utf8'), 'mine too');

  // Another job into the folder: every shard's parts were the old job's and would count as this one's.
  await writeFile(input, `${HEADER}\n${Array.from({ length: 30 }, (_, i) => features(i).join(',')).join('\n')}\n`);
  const replaced = await job({ ...options, shard: shards[0], restart: true });
  assert.equal(replaced.resumedRows, 0);
  assert.deepEqual((await sorted(join(output, 'parts'))).filter((f) => /^f00000-b\d*[13579]-/.test(f)), []);
  assert.deepEqual((await sorted(output)).filter((f) => f.startsWith('summary')), ['summary-0-of-2.json']);
  assert.equal(await readFile(join(output, 'thesis.txt'), 'utf8'), 'years of work');
  assert.equal(await readFile(join(output, 'parts', 'notes.txt'), 'utf8'), 'mine too');
  assert.equal((await job({ ...options, shard: shards[1] })).resumedRows, 0, 'shard 1 runs its rows of the new job');
});

it('bytes that are not UTF-8 fail their row (JSONL and CSV, before and past the first 256 KiB); a CSV header that is not is refused, exit 3', async () => {
  const oip = (i: number) => JSON.stringify({ custom_id: `r${i}`, body: { inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, k) => i + k) })) } });
  const bad = new Set([3, 2500]);
  const jsonl = Array.from({ length: 2600 }, (_, i) => (bad.has(i) ? Buffer.from([0x7b, 0xff, 0x7d]) : Buffer.from(oip(i))));
  assert.ok(jsonl.slice(0, 2500).reduce((n, b) => n + b.length + 1, 0) > 256 * 1024);
  await writeFile(join(dir, 'bad.jsonl'), Buffer.concat(jsonl.flatMap((b) => [b, Buffer.from('\n')])));
  const fromJsonl = await job({ model: 'simple', inputs: [join(dir, 'bad.jsonl')], output: join(dir, 'out-bad-jsonl'), partRows: 512 });
  assert.equal(fromJsonl.rows, 2600);
  assert.deepEqual((await lines(join(dir, 'out-bad-jsonl'), '.errors.jsonl')).map((e) => [e.custom_id, (e.error as { message: string }).message]), [['4', 'line 4 is not valid UTF-8'], ['2501', 'line 2501 is not valid UTF-8']]);

  // A cell, and a line that starts with the byte (the blank-line check decodes it), on either side of 256 KiB.
  const csv = Array.from({ length: 32_000 }, (_, i) => Buffer.from(features(i).join(',')));
  csv[5] = Buffer.from('1,2,\xff,4', 'latin1');
  csv[30_000] = Buffer.from('\xff1,2,3,4', 'latin1');
  assert.ok(csv.slice(0, 30_000).reduce((n, b) => n + b.length + 1, 0) > 256 * 1024);
  await writeFile(join(dir, 'bad.csv'), Buffer.concat([Buffer.from(`${HEADER}\n`), ...csv.flatMap((b) => [b, Buffer.from('\n')])]));
  const output = join(dir, 'out-bad-csv');
  const fromCsv = await job({ inputs: [join(dir, 'bad.csv')], output, outputFormat: 'jsonl', partRows: 1024 });
  assert.deepEqual([fromCsv.rows, fromCsv.errors], [32_000, 2]);
  assert.deepEqual((await lines(output, '.errors.jsonl')).map((e) => [e.row, (e.error as { message: string }).message]), [['5', 'line 7 is not valid UTF-8'], ['30000', 'line 30002 is not valid UTF-8']]);
  const results = await lines(output, '.jsonl') as { custom_id: string; response: { body: { outputs: { data: number[] }[] } } }[];
  assert.equal(results.length, 31_998);
  for (const r of results.filter((_, k) => k % 997 === 0)) assertRow(r.response.body.outputs[0]!.data, Number(r.custom_id));

  await writeFile(join(dir, 'bad-header.csv'), Buffer.from(`sepal_length,sepal_\xffwidth,petal_length,petal_width\n1,2,3,4\n`, 'latin1'));
  const refused = cli(['--model', 'tabular', '--input', join(dir, 'bad-header.csv'), '--output', join(dir, 'out-bad-header')]);
  assert.equal(refused.status, 3, refused.stderr);
  assert.equal(lastLine(refused.stderr), `vireo batch: ${join(dir, 'bad-header.csv')}: the CSV header (line 1) is not valid UTF-8 (VIREO_ERR_BATCH_INPUT_INVALID)`);
  assert.doesNotMatch(refused.stderr, /TypeError|\n\s+at /);
});

it('--max-errors counts the failed rows of committed parts: a rerun fails the same way, a larger limit resumes', async () => {
  const input = join(dir, 'hostile.csv');
  const cells = ['x,2,3,4', '1,y,3,4', '1,2,z,4', '1,2,3,w', 'a,b,c,d', '1,,3,4'];
  await writeFile(input, `${HEADER}\n1,2,3,4\n${cells.join('\n')}\n`);
  const output = join(dir, 'out-max-errors');
  const tooMany = (error: VireoError) => error.code === 'VIREO_ERR_BATCH_TOO_MANY_ERRORS' && /^6 rows failed, more than --max-errors 2/.test(error.message);
  await assert.rejects(job({ inputs: [input], output, maxErrors: 2 }), tooMany);
  await assert.rejects(job({ inputs: [input], output, maxErrors: 2 }), tooMany);
  const resumed = await job({ inputs: [input], output, maxErrors: 6 });
  assert.deepEqual([resumed.rows, resumed.resumedRows, resumed.resumedErrors], [0, 7, 6]);
});

it('--id-column id: the row id column becomes `row`, the carried one keeps `id`, in CSV, Parquet and Arrow; a name still taken twice is refused before any row', async () => {
  const input = join(dir, 'keyed.csv');
  await writeFile(input, `id,${HEADER}\n${Array.from({ length: 20 }, (_, i) => `key-${i},${features(i).join(',')}`).join('\n')}\n`);
  for (const format of ['csv', 'parquet', 'arrow'] as const) {
    const output = join(dir, `out-keyed-${format}`);
    await job({ inputs: [input], output, idColumn: 'id', outputFormat: format });
    const bytes = await readFile(join(output, 'parts', `f00000-b000000-p00000.${format}`));
    let records: { row: string; id: string; OUTPUT: ArrayLike<number> }[];
    if (format === 'csv') {
      const [header, ...rows] = bytes.toString('utf8').trim().split('\n');
      assert.equal(header, 'row,id,OUTPUT');
      records = rows.map((line) => {
        const [row, id, ...rest] = line.split(',');
        return { row: row!, id: id!, OUTPUT: JSON.parse(JSON.parse(rest.join(','))) as number[] };
      });
    } else if (format === 'parquet') {
      records = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }) as typeof records;
    } else {
      const table = tableFromIPC(bytes);
      assert.deepEqual(table.schema.fields.map((f) => f.name), ['row', 'id', 'OUTPUT']);
      records = table.toArray().map((r: { row: string; id: string; OUTPUT: { toArray(): Float32Array } }) => ({ row: r.row, id: r.id, OUTPUT: r.OUTPUT.toArray() }));
    }
    assert.deepEqual(records.map((r) => [r.row, r.id]), Array.from({ length: 20 }, (_, i) => [String(i), `key-${i}`]), format);
    records.forEach((r, i) => assertRow(r.OUTPUT, i));
  }
  await writeFile(join(dir, 'clash.csv'), `OUTPUT,${HEADER}\nk,1,2,3,4\n`);
  await assert.rejects(job({ inputs: [join(dir, 'clash.csv')], output: join(dir, 'out-clash'), idColumn: 'OUTPUT' }), (error: VireoError) =>
    error.code === 'VIREO_ERR_BATCH_INPUT_INVALID' && /two columns named "OUTPUT"/.test(error.message));
  assert.deepEqual(await readdir(join(dir, 'out-clash')), [], 'no job.json, no part');
});

it('an empty Parquet or Arrow file is refused by name, exit 3', async () => {
  await writeFile(join(dir, 'empty.parquet'), '');
  const refused = cli(['--model', 'tabular', '--input', join(dir, 'empty.parquet'), '--output', join(dir, 'out-empty')]);
  assert.equal(refused.status, 3, refused.stderr);
  assert.equal(lastLine(refused.stderr), `vireo batch: ${join(dir, 'empty.parquet')}: an empty file (0 bytes) is not a Parquet file (VIREO_ERR_BATCH_INPUT_INVALID)`);
  // An empty Arrow file ran as a job of no rows, without a word.
  await writeFile(join(dir, 'empty.arrow'), '');
  const arrow = cli(['--model', 'tabular', '--input', join(dir, 'empty.arrow'), '--output', join(dir, 'out-empty-arrow')]);
  assert.equal(arrow.status, 3, arrow.stderr);
  assert.match(lastLine(arrow.stderr) ?? "", /empty\.arrow: an empty file \(0 bytes\) is not an Arrow IPC file or stream/);
});

it('a Parquet file with a corrupt footer is refused by name as a bad, corrupt input, wherever the damage lies', async () => {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const columns = HEADER.split(',');
  const good = Buffer.from(parquetWriteBuffer({ columnData: columns.map((name, c) => ({ name, data: Float32Array.from({ length: 50 }, (_, r) => r + c), type: 'FLOAT' as const })) }));
  const footer = good.readUInt32LE(good.length - 8);
  for (let k = 0; k < 40; k++) {
    const bad = Buffer.from(good);
    const at = good.length - 8 - footer + Math.floor((k / 40) * footer);
    bad[at] = (bad[at]! + 97) & 255;
    const path = join(dir, `corrupt-${k}.parquet`);
    await writeFile(path, bad);
    // Either the damage did not matter, or the job is refused as bad input naming the file: never a bare TypeError.
    await job({ inputs: [path], output: join(dir, `out-corrupt-${k}`), outputFormat: 'csv' }).then(
      () => undefined,
      (error: VireoError) => {
        assert.ok(error.code === 'VIREO_ERR_BATCH_INPUT_INVALID' && error.message.startsWith(`${path}: `), `byte ${at}: ${error}`);
        // The reader's own stumble (a TypeError deep in its decoding) comes with what it means.
        if (/Cannot read properties|is not a function|is not iterable/.test(error.message)) assert.match(error.message, /not a valid Parquet file or corrupt/, `byte ${at}`);
      },
    );
  }
});

it('a CSV whose quoted field holds a line break is refused, naming the lines and why', async () => {
  const path = join(dir, 'multiline.csv');
  await writeFile(path, `id,${HEADER}\nk1,1,2,3,4\n"k\n2",5,6,7,8\n`);
  await assert.rejects(job({ inputs: [path], output: join(dir, 'out-multiline'), idColumn: 'id', outputFormat: 'csv' }), (error: VireoError) =>
    error.code === 'VIREO_ERR_BATCH_INPUT_INVALID' && /lines 2–4 hold 2 CSV records \(a quoted field holds a line break/.test(error.message));
});
