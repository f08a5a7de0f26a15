/**
 * An `--id-column` the input does not have stops the job, naming the columns the input does have — all
 * of them. A CSV's numeric feature columns (and a Parquet row group's FLOAT columns) that make up one
 * FP32 input are read into a row-major block beside the table's other columns (row-major-layout.ts);
 * the message listed only the others, so over the example `tabular` model it read `(it has )` for a
 * CSV of features alone and `(it has "key")` for one with a key column. Column names are the files' own.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { runBatch } from '../../src/app/run-batch.js';
import type { VireoError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/logging/logger.js';

const root = join(import.meta.dirname, '..', '..');
const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const ROWS = 12;
const cell = (r: number, c: number) => 1 + ((r * 7 + c * 3) % 13) / 4;
let dir: string;
let repo: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vireo-batch-id-column-'));
  repo = join(dir, 'models');
  await mkdir(repo);
  await symlink(join(root, 'examples', 'models', 'tabular'), join(repo, 'tabular'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** The same table (with or without a `key` column) as CSV, Parquet and Arrow. */
async function inputs(withKey: boolean): Promise<string[]> {
  const names = withKey ? ['key', ...FEATURES] : FEATURES;
  const key = Array.from({ length: ROWS }, (_, r) => `k-${r}`);
  const features = FEATURES.map((_, c) => Float32Array.from({ length: ROWS }, (_, r) => cell(r, c)));
  const stem = join(dir, withKey ? 'keyed' : 'plain');
  const csvRows = Array.from({ length: ROWS }, (_, r) => [...(withKey ? [key[r]] : []), ...FEATURES.map((_, c) => cell(r, c))].join(','));
  await writeFile(`${stem}.csv`, `${names.join(',')}\n${csvRows.join('\n')}\n`);
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const columnData = [
    ...(withKey ? [{ name: 'key', data: key, type: 'STRING' as const }] : []),
    ...FEATURES.map((name, c) => ({ name, data: features[c]!, type: 'FLOAT' as const })),
  ];
  await writeFile(`${stem}.parquet`, Buffer.from(parquetWriteBuffer({ columnData })));
  const arrow = Object.fromEntries([...(withKey ? [['key', key]] : []), ...FEATURES.map((name, c) => [name, features[c]!])]);
  await writeFile(`${stem}.arrow`, tableToIPC(tableFromArrays(arrow), 'file'));
  return ['csv', 'parquet', 'arrow'].map((ext) => `${stem}.${ext}`);
}

it('an unknown --id-column is refused naming every column of the input, in CSV, Parquet and Arrow', async () => {
  for (const withKey of [false, true]) {
    const expected = (withKey ? ['key', ...FEATURES] : FEATURES).map((name) => `"${name}"`);
    for (const input of await inputs(withKey)) {
      const output = join(dir, `out-${input.slice(dir.length + 1).replace('.', '-')}`);
      await assert.rejects(
        runBatch({ modelRepository: repo, logger: silentLogger(), model: 'tabular', loadModels: ['tabular'], inputs: [input], output, idColumn: 'nokey' }),
        (error: VireoError) => {
          assert.equal(error.code, 'VIREO_ERR_BATCH_INPUT_INVALID', input);
          const listed = /^--id-column "nokey" is not a column of the input \(it has (.*)\)$/.exec(error.message);
          assert.ok(listed, `${input}: ${error.message}`);
          assert.deepEqual(listed[1]!.split(', ').sort(), [...expected].sort(), `${input}: ${error.message}`);
          return true;
        },
      );
    }
  }
});
