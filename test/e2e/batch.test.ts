/**
 * `vireo batch` in-process (runBatch, the CLI's composition root) over real files and real models:
 * the tabular MLP over CSV, Parquet and Arrow IPC (expected values from the MLP's reference
 * implementation, not from Vireo), Triton's simple model over JSONL in OpenAI's batch shape and as
 * plain OIP lines (expected: INPUT0 ± INPUT1), bad rows in the errors file, --max-errors, a changed
 * input refused, shards whose union equals the single run.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import { parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm/node';
import { runBatch, type RunBatchOptions } from '../../src/app/run-batch.js';
import { tableToInputs } from '../../src/codecs/dataframe-codec.js';
import { VireoError } from '../../src/core/errors.js';
import { DEFAULT_REQUEST_LIMITS, setRequestLimits } from '../../src/core/request-limits.js';
import { silentLogger } from '../../src/logging/logger.js';
import { USABLE_CORES } from '../../src/core/cpu-budget.js';
import { captureLogger } from '../helpers/logs.js';
import { identityModel, mlpReference } from '../../tools/modelgen/models.js';
import { TABULAR_SEED, TABULAR_SIZES } from '../../tools/prepare-examples.js';

const examples = join(import.meta.dirname, '..', '..', 'examples', 'models');
const COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

let dir: string;
let repo: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-'));
  repo = join(dir, 'models');
  await mkdir(repo);
  for (const model of ['simple', 'tabular']) await symlink(join(examples, model), join(repo, model));
});
after(() => rm(dir, { recursive: true, force: true }));

const job = (options: Partial<RunBatchOptions> & Pick<RunBatchOptions, 'model' | 'inputs' | 'output'>) =>
  runBatch({ modelRepository: repo, logger: silentLogger(), loadModels: [options.model], ...options });

/** Deterministic pseudo-random feature rows. */
function featureRows(n: number, seed = 7): number[][] {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 8;
  return Array.from({ length: n }, () => COLUMNS.map(() => Math.round(next() * 100) / 100));
}

async function partFiles(output: string, suffix: string): Promise<string[]> {
  return (await readdir(join(output, 'parts'))).filter((f) => f.endsWith(suffix) && !f.endsWith('.errors.jsonl')).sort().map((f) => join(output, 'parts', f));
}

async function jsonlOf(output: string, suffix = '.jsonl'): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  for (const file of await partFiles(output, suffix)) for (const line of (await readFile(file, 'utf8')).split('\n')) if (line) lines.push(JSON.parse(line));
  return lines;
}

async function errorsOf(output: string): Promise<{ custom_id: string; error: { code: string; message: string } }[]> {
  const files = (await readdir(join(output, 'parts'))).filter((f) => f.endsWith('.errors.jsonl')).sort();
  const lines = [];
  for (const f of files) for (const line of (await readFile(join(output, 'parts', f), 'utf8')).split('\n')) if (line) lines.push(JSON.parse(line));
  return lines;
}

/** CSV output rows as [id, numbers[]] (the output column holds a JSON array). */
async function csvOf(output: string): Promise<[string, number[]][]> {
  const rows: [string, number[]][] = [];
  for (const file of await partFiles(output, '.csv')) {
    const [header, ...lines] = (await readFile(file, 'utf8')).trim().split('\n');
    assert.equal(header, 'id,OUTPUT');
    for (const line of lines) {
      const comma = line.indexOf(',');
      rows.push([line.slice(0, comma), JSON.parse(JSON.parse(line.slice(comma + 1)))]);
    }
  }
  return rows;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) < 1e-4 * Math.max(1, Math.abs(expected[i]!)), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

describe('vireo batch: dataframes into the tabular MLP', () => {
  const rows = featureRows(700);
  const expected = mlpReference(TABULAR_SIZES, TABULAR_SEED, Float32Array.from(rows.flat()), rows.length);
  const expectedRow = (r: number) => expected.subarray(r * 3, r * 3 + 3);

  it('CSV in, CSV out: every row, in order, as the reference computes it; bad rows in the errors file', async () => {
    const lines = rows.map((r) => r.join(','));
    lines[5] = '1.0,abc,2.0,3.0';
    lines[300] = '1.0,2.0,3.0';
    lines[301] = '1.0,2.0,3.0,4.0,5.0';
    lines[302] = `"${rows[302]![0]}", ${rows[302]!.slice(1).join(' ,')}`;
    await writeFile(join(dir, 'iris.csv'), `${COLUMNS.join(',')}\n${lines.join('\n')}\n`);
    const output = join(dir, 'out-csv');
    const summary = await job({ model: 'tabular', inputs: [join(dir, 'iris.csv')], output, partRows: 128 });
    assert.equal(summary.rows, 700);
    assert.equal(summary.errors, 3);
    assert.ok(summary.meanBatchRows > 32, `batches are full: ${summary.meanBatchRows}`);
    const got = await csvOf(output);
    assert.deepEqual(got.map(([id]) => id), rows.map((_, i) => String(i)).filter((i) => !['5', '300', '301'].includes(i)));
    for (const [id, values] of got) assertClose(values, expectedRow(Number(id)), `row ${id}`);
    const errors = await errorsOf(output);
    assert.deepEqual(errors.map((e) => e.custom_id), ['5', '300', '301']);
    assert.match(errors[2]!.error.message, /line 303 has 5 cells, the header has 4/);
    assert.match(errors[0]!.error.message, /"abc" is not a number/);
    assert.match(errors[1]!.error.message, /value is missing/);
    assert.equal(errors[0]!.error.code, 'VIREO_ERR_INPUT_DATA');
  });

  it('runs the model as one single-threaded instance per core unless --instances says otherwise; the same rows either way', async () => {
    await writeFile(join(dir, 'iris-instances.csv'), `${COLUMNS.join(',')}\n${rows.map((r) => r.join(',')).join('\n')}\n`);
    const cases = [
      { instances: undefined, expected: USABLE_CORES >= 2 ? { instances: USABLE_CORES, intraOpThreads: 1 } : undefined },
      { instances: 'config' as const, expected: undefined },
      { instances: 3, expected: { instances: 3, intraOpThreads: 1 } },
    ];
    for (const { instances, expected: note } of cases) {
      const { logger, lines } = captureLogger();
      const output = join(dir, `out-instances-${instances}`);
      const summary = await job({ model: 'tabular', inputs: [join(dir, 'iris-instances.csv')], output, partRows: 128, instances, logger });
      assert.equal(summary.rows, 700);
      assert.equal(summary.errors, 0);
      const logged = lines.find((l) => String(l.msg).startsWith('instances for the batch job'));
      assert.deepEqual(logged && { instances: logged.instances, intraOpThreads: logged.intraOpThreads }, note, `--instances ${instances}`);
      const got = await csvOf(output);
      assert.deepEqual(got.map(([id]) => id), rows.map((_, i) => String(i)));
      for (const [id, values] of got) assertClose(values, expectedRow(Number(id)), `--instances ${instances}, row ${id}`);
    }
  });

  it("holds full batches to the batch size, not to a client's per-request tensor bytes (which still bound a dataframe request)", async () => {
    // 256 bytes a tensor: a client's dataframe of 17 rows × 4 FP32 columns is refused; the job's batches of 64 rows are not.
    setRequestLimits({ maxTensorBytes: 256, maxRequestTensorBytes: 256 });
    try {
      await writeFile(join(dir, 'iris-small-limits.csv'), `${COLUMNS.join(',')}\n${rows.slice(0, 200).map((r) => r.join(',')).join('\n')}\n`);
      const output = join(dir, 'out-small-limits');
      const summary = await job({ model: 'tabular', inputs: [join(dir, 'iris-small-limits.csv')], output, partRows: 128 });
      assert.equal(summary.errors, 0, JSON.stringify(await errorsOf(output)));
      assert.ok(summary.meanBatchRows > 32, `batches are full: ${summary.meanBatchRows}`);
      const got = await csvOf(output);
      assert.equal(got.length, 200);
      for (const [id, values] of got) assertClose(values, expectedRow(Number(id)), `row ${id}`);
      // The REST dataframe mapping, as a client's request reaches it: held to the bound.
      const table = { columns: new Map<string, unknown[]>(COLUMNS.map((c, j) => [c, rows.slice(0, 17).map((r) => r[j]!)])), rows: 17 };
      const input = { name: 'INPUT', data_type: 'FP32' as const, dims: [4], columns: COLUMNS };
      assert.throws(() => tableToInputs(table, [input], new Map([['INPUT', COLUMNS]]), true), (error: VireoError) => error.code === 'VIREO_ERR_REQUEST_TOO_LARGE');
    } finally {
      setRequestLimits(DEFAULT_REQUEST_LIMITS);
    }
  });

  it('Parquet in (several row groups), Parquet out, with an id column carried through', async () => {
    const ids = rows.map((_, i) => `sample-${i}`);
    const bytes = parquetWriteBuffer({
      columnData: [{ name: 'key', data: ids, type: 'STRING' }, ...COLUMNS.map((c, j) => ({ name: c, data: rows.map((r) => r[j]!), type: 'DOUBLE' as const }))],
      rowGroupSize: 250,
    });
    await writeFile(join(dir, 'iris.parquet'), new Uint8Array(bytes));
    const output = join(dir, 'out-parquet');
    const summary = await job({ model: 'tabular', inputs: [join(dir, 'iris.parquet')], output, idColumn: 'key', partRows: 100 });
    assert.equal(summary.rows, 700);
    assert.equal(summary.errors, 0);
    const got: Record<string, unknown>[] = [];
    for (const file of await partFiles(output, '.parquet')) got.push(...await parquetReadObjects({ file: (await readFile(file)).buffer as ArrayBuffer }));
    assert.equal(got.length, 700);
    got.forEach((row, i) => {
      assert.equal(row.id, String(i));
      assert.equal(row.key, `sample-${i}`);
      assertClose(row.OUTPUT as number[], expectedRow(i), `row ${i}`);
    });
  });

  it('Parquet compressed as Polars, Spark and DuckDB write it (zstd, gzip, brotli, lz4, snappy), with a null cell', async () => {
    // Written by parquet-wasm's writer from an Arrow table: nullable FLOAT columns, one null in row 7.
    const columns = Object.fromEntries(COLUMNS.map((c, j) => [c, rows.map((r, i) => (i === 7 && j === 2 ? null : r[j]!))]));
    const arrow = tableFromArrays(columns as Record<string, (number | null)[]>);
    for (const [name, codec] of [['zstd', Compression.ZSTD], ['gzip', Compression.GZIP], ['brotli', Compression.BROTLI], ['lz4', Compression.LZ4_RAW], ['snappy', Compression.SNAPPY]] as const) {
      const properties = new WriterPropertiesBuilder().setCompression(codec).setMaxRowGroupSize(300).build();
      await writeFile(join(dir, `${name}.parquet`), writeParquet(WasmTable.fromIPCStream(tableToIPC(arrow, 'stream')), properties));
      const output = join(dir, `out-${name}`);
      const summary = await job({ model: 'tabular', inputs: [join(dir, `${name}.parquet`)], output, partRows: 128, outputFormat: 'csv' });
      assert.equal(summary.rows, 700, name);
      assert.equal(summary.errors, 1, name);
      const got = await csvOf(output);
      assert.equal(got.length, 699, name);
      for (const [id, values] of got) assertClose(values, expectedRow(Number(id)), `${name} row ${id}`);
      const [error] = await errorsOf(output);
      assert.equal(error!.custom_id, '7');
      assert.match(error!.error.message, /^column "[^"]+": value is missing$/);
    }
  });

  it('Arrow IPC in (several record batches), Arrow out; JSONL out from CSV in', async () => {
    const batches = [0, 300, 600].map((start) => tableFromArrays(Object.fromEntries(COLUMNS.map((c, j) => [c, Float32Array.from(rows.slice(start, start + 300).map((r) => r[j]!))]))));
    const table = batches[0]!.concat(...batches.slice(1));
    await writeFile(join(dir, 'iris.arrows'), tableToIPC(table, 'stream'));
    const output = join(dir, 'out-arrow');
    const summary = await job({ model: 'tabular', inputs: [join(dir, 'iris.arrows')], output });
    assert.equal(summary.rows, 700);
    let i = 0;
    for (const file of await partFiles(output, '.arrow')) {
      const part = tableFromIPC(await readFile(file));
      for (const row of part) {
        assert.equal(row.id, String(i));
        assertClose([...row.OUTPUT], expectedRow(i), `row ${i}`);
        i++;
      }
    }
    assert.equal(i, 700);

    const jsonOut = join(dir, 'out-csv-jsonl');
    await job({ model: 'tabular', inputs: [join(dir, 'iris.csv')], output: jsonOut, outputFormat: 'jsonl' });
    const lines = await jsonlOf(jsonOut);
    assert.equal(lines.length, 697);
    const first = lines[0] as { custom_id: string; response: { status_code: number; body: { outputs: { name: string; shape: number[]; data: number[] }[] } }; error: null };
    assert.equal(first.custom_id, '0');
    assert.equal(first.response.status_code, 200);
    assert.equal(first.error, null);
    assert.deepEqual(first.response.body.outputs[0]!.shape, [1, 3]);
    assertClose(first.response.body.outputs[0]!.data, expectedRow(0), 'jsonl row 0');
  });

  it('a missing column stops the job with the REST path\'s message, before any row runs', async () => {
    await writeFile(join(dir, 'short.csv'), 'sepal_length,sepal_width\n1,2\n');
    await assert.rejects(job({ model: 'tabular', inputs: [join(dir, 'short.csv')], output: join(dir, 'out-short') }), (error: VireoError) => {
      assert.equal(error.code, 'VIREO_ERR_BATCH_INPUT_INVALID');
      assert.match(error.message, /missing columns "petal_length", "petal_width"/);
      return true;
    });
  });
});

describe('vireo batch: JSONL requests into simple', () => {
  const a = (i: number) => Array.from({ length: 16 }, (_, k) => i + k);
  const b = (i: number) => Array.from({ length: 16 }, (_, k) => 2 * k - i);
  const oip = (i: number) => ({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a(i) }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b(i) }] });

  async function writeRequests(n: number, file: string, bad: Record<number, string> = {}): Promise<void> {
    const lines = Array.from({ length: n }, (_, i) => bad[i] ?? JSON.stringify(i % 3 === 0 ? oip(i) : { custom_id: `req-${i}`, method: 'POST', url: '/v2/models/simple/infer', body: oip(i) }));
    await writeFile(file, `${lines.join('\n')}\n`);
  }

  it('answers each line in OpenAI\'s batch output shape, in order; bad lines go to the errors file', async () => {
    const file = join(dir, 'requests.jsonl');
    await writeRequests(200, file, {
      7: '{"custom_id": "broken", "body": {',
      8: JSON.stringify({ custom_id: 'bad-shape', body: { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 15], data: a(8).slice(0, 15) }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 15], data: b(8).slice(0, 15) }] } }),
      9: JSON.stringify({ custom_id: 'other-model', url: '/v2/models/tabular/infer', body: oip(9) }),
    });
    const output = join(dir, 'out-jsonl');
    const summary = await job({ model: 'simple', inputs: [file], output, partRows: 64 });
    assert.equal(summary.rows, 200);
    assert.equal(summary.errors, 3);
    const lines = await jsonlOf(output) as { custom_id: string; response: { body: { model_name: string; outputs: { name: string; data: number[] }[] } } }[];
    const expectedIds = Array.from({ length: 200 }, (_, i) => i).filter((i) => i < 7 || i > 9).map((i) => (i % 3 === 0 ? String(i + 1) : `req-${i}`));
    assert.deepEqual(lines.map((l) => l.custom_id), expectedIds);
    for (const line of lines) {
      const i = line.custom_id.startsWith('req-') ? Number(line.custom_id.slice(4)) : Number(line.custom_id) - 1;
      const out = Object.fromEntries(line.response.body.outputs.map((o) => [o.name, o.data]));
      assert.equal(line.response.body.model_name, 'simple');
      assert.deepEqual(out.OUTPUT0, a(i).map((v, k) => v + b(i)[k]!));
      assert.deepEqual(out.OUTPUT1, a(i).map((v, k) => v - b(i)[k]!));
    }
    const errors = await errorsOf(output);
    assert.deepEqual(errors.map((e) => e.custom_id), ['8', 'bad-shape', 'other-model']);
    assert.match(errors[0]!.error.message, /line 8 is not valid JSON/);
    assert.equal(errors[1]!.error.code, 'VIREO_ERR_INPUT_SHAPE');
    assert.match(errors[2]!.error.message, /names model "tabular"/);
  });

  it('--max-errors stops the job once more rows failed', async () => {
    const file = join(dir, 'many-bad.jsonl');
    await writeRequests(100, file, Object.fromEntries(Array.from({ length: 10 }, (_, k) => [k * 10, 'not json'])));
    await assert.rejects(job({ model: 'simple', inputs: [file], output: join(dir, 'out-maxerr'), maxErrors: 3, partRows: 8 }), (error: VireoError) => {
      assert.equal(error.code, 'VIREO_ERR_BATCH_TOO_MANY_ERRORS');
      return true;
    });
  });

  it('a rerun resumes (nothing redone); a changed input is refused unless restart', async () => {
    const file = join(dir, 'resume.jsonl');
    await writeRequests(100, file);
    const output = join(dir, 'out-resume');
    const first = await job({ model: 'simple', inputs: [file], output, partRows: 16 });
    const before = await jsonlOf(output);
    const again = await job({ model: 'simple', inputs: [file], output, partRows: 16 });
    assert.equal(first.rows, 100);
    assert.equal(again.rows, 0);
    assert.equal(again.resumedRows, 100);
    assert.deepEqual(await jsonlOf(output), before);
    await writeRequests(101, file);
    await assert.rejects(job({ model: 'simple', inputs: [file], output, partRows: 16 }), (error: VireoError) => {
      assert.equal(error.code, 'VIREO_ERR_BATCH_OUTPUT_MISMATCH');
      assert.match(error.message, /changed: inputs/);
      return true;
    });
    await assert.rejects(job({ model: 'simple', inputs: [file], output, partRows: 32 }), /changed: inputs, partRows/);
    const restarted = await job({ model: 'simple', inputs: [file], output, partRows: 16, restart: true });
    assert.equal(restarted.rows, 101);
    assert.equal((await jsonlOf(output)).length, 101);
  });

  it('shards write disjoint parts whose union equals the single-process run', async () => {
    const file = join(dir, 'sharded.jsonl');
    await writeRequests(300, file);
    const single = join(dir, 'out-single');
    const sharded = join(dir, 'out-sharded');
    await job({ model: 'simple', inputs: [file], output: single, blockBytes: 4096, partRows: 16 });
    const counts = [];
    for (let index = 0; index < 3; index++) {
      counts.push((await job({ model: 'simple', inputs: [file], output: sharded, blockBytes: 4096, partRows: 16, shard: { index, count: 3 } })).rows);
    }
    assert.ok(counts.every((c) => c > 0), `every shard has work: ${counts}`);
    assert.equal(counts.reduce((x, y) => x + y, 0), 300);
    assert.deepEqual(await jsonlOf(sharded), await jsonlOf(single));
    const names = async (d: string) => (await readdir(join(d, 'parts'))).sort();
    assert.deepEqual(await names(sharded), await names(single));
  });
});

describe('vireo batch: 64-bit integers beyond ±2^53', () => {
  // Written and read as text: JSON.parse here would round them, as would a job that read or wrote them as Numbers.
  const values = ['9007199254740993', '-9223372036854775808', '9223372036854775807', '5'];
  const line = `{"custom_id":"big","body":{"inputs":[{"name":"INPUT","shape":[1,4],"datatype":"INT64","data":[${values.join(',')}]}]}}`;
  let int64Repo: string;

  before(async () => {
    int64Repo = join(dir, 'int64-models');
    await mkdir(join(int64Repo, 'int64', '1'), { recursive: true });
    await writeFile(join(int64Repo, 'int64', '1', 'model.onnx'), identityModel('INT64'));
    await writeFile(join(int64Repo, 'int64', 'config.json'), JSON.stringify({ max_batch_size: 8 }));
    await writeFile(join(dir, 'int64.jsonl'), `${line}\n`);
  });

  for (const format of ['jsonl', 'csv'] as const) {
    it(`reads them exactly from JSONL and writes them exactly to ${format}`, async () => {
      const output = join(dir, `out-int64-${format}`);
      const summary = await job({ modelRepository: int64Repo, model: 'int64', inputs: [join(dir, 'int64.jsonl')], output, outputFormat: format });
      assert.equal(summary.errors, 0, JSON.stringify(await errorsOf(output)));
      const [file] = await partFiles(output, `.${format}`);
      const text = await readFile(file!, 'utf8');
      assert.ok(text.includes(format === 'jsonl' ? `"data":[${values.join(',')}]` : `"[${values.join(',')}]"`), text);
    });
  }
});
