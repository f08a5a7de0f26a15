/**
 * A model's fingerprint (repository/model-fingerprint.ts: the identity of a `vireo batch` job and what
 * a polled repository reloads on) covers the label files its configuration names
 * (`output[].label_filename`), wherever they are in the model directory and whichever configuration
 * file names them: a labels file changed in content is a change, one rewritten with the same content
 * is not. Expected hashes are SHA-256 of the files' bytes computed here.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fingerprintModel, fingerprintsDiffer, modelFilesChanged } from '../../src/repository/model-fingerprint.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-fingerprint-labels-'));
after(() => rm(dir, { recursive: true, force: true }));

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');
/** The content of a fingerprint: path → hash, model files then versions' (what a job's identity keeps). */
const content = (f: Awaited<ReturnType<typeof fingerprintModel>>) => ({
  model: Object.fromEntries(Object.entries(f.model).map(([p, s]) => [p, s.hash])),
  versions: Object.fromEntries(Object.entries(f.versions).map(([v, files]) => [v, Object.fromEntries(Object.entries(files).map(([p, s]) => [p, s.hash]))])),
});

async function model(name: string, configFile: string, config: string, labels: Record<string, string>): Promise<string> {
  const at = join(dir, name);
  await mkdir(join(at, '1'), { recursive: true });
  await writeFile(join(at, '1', 'model.onnx'), 'not read by the fingerprint');
  await writeFile(join(at, configFile), config);
  for (const [path, text] of Object.entries(labels)) {
    await mkdir(join(at, path, '..'), { recursive: true });
    await writeFile(join(at, path), text);
  }
  return at;
}

it('a labels file named by config.yaml is in the fingerprint: changed content is a change, the same content rewritten is not', async () => {
  const at = await model('yaml', 'config.yaml', [
    'backend: onnx',
    'max_batch_size: 4',
    'input: [{ name: INPUT, data_type: TYPE_FP32, dims: [4] }]',
    'output:',
    '  - { name: OUTPUT, data_type: TYPE_FP32, dims: [3], label_filename: labels.txt }',
    '  - { name: OTHER, data_type: TYPE_FP32, dims: [2], label_filename: ./assets/other labels.txt }',
    '',
  ].join('\n'), { 'labels.txt': 'setosa\nversicolor\nvirginica\n', 'assets/other labels.txt': 'no\nyes\n' });
  const first = await fingerprintModel(at);
  assert.deepEqual(content(first), {
    model: {
      'assets/other labels.txt': await sha256(join(at, 'assets', 'other labels.txt')),
      'config.yaml': await sha256(join(at, 'config.yaml')),
      'labels.txt': await sha256(join(at, 'labels.txt')),
    },
    versions: { 1: { 'model.onnx': await sha256(join(at, '1', 'model.onnx')) } },
  });

  // Unchanged, and rewritten with the same bytes (a new mtime): the same fingerprint, with or without the previous one.
  await writeFile(join(at, 'labels.txt'), 'setosa\nversicolor\nvirginica\n');
  for (const again of [await fingerprintModel(at), await fingerprintModel(at, first)]) {
    assert.deepEqual(content(again), content(first));
    assert.equal(fingerprintsDiffer(first, again), false);
  }

  // One label changed: a change of the model's own files, whether the previous fingerprint is given or not.
  await writeFile(join(at, 'labels.txt'), 'setosa\nversicolour\nvirginica\n');
  for (const changed of [await fingerprintModel(at), await fingerprintModel(at, first)]) {
    assert.equal(changed.model['labels.txt']!.hash, await sha256(join(at, 'labels.txt')));
    assert.notEqual(changed.model['labels.txt']!.hash, first.model['labels.txt']!.hash);
    assert.equal(fingerprintsDiffer(first, changed), true);
    assert.equal(modelFilesChanged(first, changed), true);
  }
  await writeFile(join(at, 'assets', 'other labels.txt'), 'yes\nno\n');
  assert.equal(fingerprintsDiffer(first, await fingerprintModel(at, first)), true);
});

it('a labels file named by config.pbtxt counts too; one outside the model directory, or named by a configuration that does not parse, is left out', async () => {
  const at = await model('pbtxt', 'config.pbtxt', [
    'platform: "onnxruntime_onnx"',
    'max_batch_size: 4',
    'input [ { name: "INPUT" data_type: TYPE_FP32 dims: [ 4 ] } ]',
    'output [ { name: "OUTPUT" data_type: TYPE_FP32 dims: [ 3 ] label_filename: "1/labels.txt" },',
    '         { name: "AWAY" data_type: TYPE_FP32 dims: [ 3 ] label_filename: "../elsewhere.txt" } ]',
    '',
  ].join('\n'), { '1/labels.txt': 'a\nb\nc\n' });
  await writeFile(join(dir, 'elsewhere.txt'), 'outside');
  const first = await fingerprintModel(at);
  assert.deepEqual(Object.keys(first.model).sort(), ['1/labels.txt', 'config.pbtxt']);
  assert.equal(first.model['1/labels.txt']!.hash, await sha256(join(at, '1', 'labels.txt')));
  await writeFile(join(at, '1', 'labels.txt'), 'a\nb\nd\n');
  const changed = await fingerprintModel(at, first);
  assert.equal(modelFilesChanged(first, changed), true, 'a labels file in a version folder is a change of the model\'s files (labels are read at load)');

  const broken = await model('broken', 'config.yaml', 'output: [ { name: X, label_filename: labels.txt\n', { 'labels.txt': 'x\n' });
  assert.deepEqual(Object.keys((await fingerprintModel(broken)).model), ['config.yaml']);
});

it('a configuration that starts naming a labels file, or names another one, changes the fingerprint by that file too', async () => {
  const at = await model('renamed', 'config.yaml', 'output: [{ name: OUTPUT, data_type: TYPE_FP32, dims: [3], label_filename: a.txt }]\n', { 'a.txt': 'x\ny\nz\n', 'b.txt': 'p\nq\nr\n' });
  const first = await fingerprintModel(at);
  assert.deepEqual(Object.keys(first.model).sort(), ['a.txt', 'config.yaml']);
  await writeFile(join(at, 'config.yaml'), 'output: [{ name: OUTPUT, data_type: TYPE_FP32, dims: [3], label_filename: b.txt }]\n');
  const second = await fingerprintModel(at, first);
  assert.deepEqual(Object.keys(second.model).sort(), ['b.txt', 'config.yaml']);
  assert.equal(second.model['b.txt']!.hash, await sha256(join(at, 'b.txt')));
  // Then b.txt alone changes: seen through the remembered list of label files.
  await writeFile(join(at, 'b.txt'), 'p\nq\ns\n');
  const third = await fingerprintModel(at, second);
  assert.equal(fingerprintsDiffer(second, third), true);
  assert.equal(third.model['b.txt']!.hash, await sha256(join(at, 'b.txt')));
});
