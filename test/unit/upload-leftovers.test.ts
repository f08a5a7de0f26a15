/**
 * What a process killed in the middle of a load with uploaded files leaves in a model's folder
 * (repository/model-upload.ts): the fingerprint never counts it, and the model's next load settles it —
 * a copy of a replaced file is restored (the upload never completed) unless the upload's `.kept` marker
 * says its load had succeeded (then the copy goes), a temporary file goes, and nothing else is touched:
 * not names that only look alike, not a copy that cannot be restored unambiguously, not a folder
 * outside the model's reached through a symbolic link. The leftovers are made here as the writer makes
 * them (a hard link of the replaced file, then the upload renamed over it); expected contents and
 * hashes are computed here.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { ModelRepository } from '../../src/repository/model-repository.js';
import { fingerprintModel } from '../../src/repository/model-fingerprint.js';
import { ADD_CONFIG, addModel } from '../helpers/lifecycle.js';
import { captureLogger } from '../helpers/logs.js';
import { makeRepository } from '../helpers/repository.js';

let repo: { root: string; cleanup: () => Promise<void> };
let outside: string;
let repository: ModelRepository;
const logs = captureLogger();

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
/** Every file under `dir`, relative, sorted (symbolic links listed, not followed). */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => !e.isDirectory())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** As the writer does it: the file kept aside as a hard link, then the upload renamed over it. */
async function interruptedReplace(target: string, id: string, upload: Uint8Array | string): Promise<void> {
  await link(target, `${target}.replaced-${id}`);
  await writeFile(`${target}.upload-ffffffffffff`, upload);
  await rename(`${target}.upload-ffffffffffff`, target);
}

before(async () => {
  repo = await makeRepository({
    killed: { config: ADD_CONFIG, versions: { 1: addModel(1) } },
    loaded: { config: ADD_CONFIG, versions: { 1: addModel(1) } },
  });
  outside = await mkdtemp(join(tmpdir(), 'vireo-outside-'));
  repository = new ModelRepository({ root: repo.root, logger: logs.logger, controlMode: 'explicit' });
});
after(async () => {
  await repository.close();
  await repo.cleanup();
  await rm(outside, { recursive: true, force: true });
});

async function infer(model: string): Promise<number[]> {
  const outputs = await repository.find(model, '1').scheduler!.enqueue(
    [{ name: 'INPUT', datatype: 'FP32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) }], ['OUTPUT'], 1);
  return Array.from(outputs[0]!.data as Float32Array);
}

it('an upload killed before its outcome: the fingerprint ignores its leftovers, the next load restores the replaced files', async () => {
  const v1 = join(repo.root, 'killed', '1');
  // One upload, id 0123456789ab, killed while its model loaded: two files replaced (one in a sub-folder),
  // a third still being written.
  await mkdir(join(v1, 'sub'));
  await writeFile(join(v1, 'sub', 'weights.bin'), 'old weights');
  await interruptedReplace(join(v1, 'model.onnx'), '0123456789ab', addModel(7));
  await interruptedReplace(join(v1, 'sub', 'weights.bin'), '0123456789ab', 'new weights');
  await writeFile(join(v1, 'extra.bin.upload-abcdefabcdef'), 'half a fi');
  // Look-alikes the writer never makes: left alone.
  const lookAlikes = ['model.onnx.replaced-0123456789AB', 'model.onnx.replaced-0123', 'model.onnx.replaced-0123456789abc', 'notes.upload-xyz'];
  for (const name of lookAlikes) await writeFile(join(v1, name), name);
  // Copies that cannot be restored unambiguously: left alone (and logged).
  await mkdir(join(v1, 'now-a-folder'));
  await writeFile(join(v1, 'now-a-folder.replaced-111111111111'), 'was a file');
  await writeFile(join(v1, 'twice.bin'), 'current');
  await writeFile(join(v1, 'twice.bin.replaced-222222222222'), 'first');
  await writeFile(join(v1, 'twice.bin.replaced-333333333333'), 'second');
  // A folder outside the model, reached through a symbolic link: never followed.
  await writeFile(join(outside, 'model.onnx'), 'outside');
  await writeFile(join(outside, 'model.onnx.replaced-444444444444'), 'outside copy');
  await symlink(outside, join(v1, 'elsewhere'));

  // The fingerprint holds the model's files only, the upload's file in place (not yet settled).
  const before = await fingerprintModel(join(repo.root, 'killed'));
  const hashes = Object.fromEntries(Object.entries(before.versions['1']!).map(([path, stamp]) => [path, stamp.hash]));
  assert.deepEqual(hashes, {
    'elsewhere/model.onnx': sha256('outside'),
    'model.onnx': sha256(addModel(7)),
    ...Object.fromEntries(lookAlikes.map((name) => [name, sha256(name)])),
    'sub/weights.bin': sha256('new weights'),
    'twice.bin': sha256('current'),
  });

  await repository.load('killed');
  assert.deepEqual(await infer('killed'), [2, 3, 4, 5], 'the restored model (+1) serves, not the upload (+7)');
  assert.ok(Buffer.from(addModel(1)).equals(await readFile(join(v1, 'model.onnx'))));
  assert.equal(await readFile(join(v1, 'sub', 'weights.bin'), 'utf8'), 'old weights');
  assert.deepEqual(await tree(v1), [
    'elsewhere',
    ...lookAlikes,
    'model.onnx',
    'now-a-folder.replaced-111111111111',
    'sub/weights.bin',
    'twice.bin',
    'twice.bin.replaced-222222222222',
    'twice.bin.replaced-333333333333',
  ].sort());
  assert.equal(await readFile(join(v1, 'twice.bin'), 'utf8'), 'current');
  assert.deepEqual(await tree(outside), ['model.onnx', 'model.onnx.replaced-444444444444']);
  assert.equal(await readFile(join(outside, 'model.onnx'), 'utf8'), 'outside');
  const messages = logs.lines.filter((l) => l.model === 'killed').map((l) => `${l.msg}: ${String(l.file)}`);
  for (const line of [
    'restored the file an interrupted upload had replaced: 1/model.onnx',
    'restored the file an interrupted upload had replaced: 1/sub/weights.bin',
    'removed what an interrupted upload left: 1/extra.bin.upload-abcdefabcdef',
    'an interrupted upload left copies of a file that cannot be restored unambiguously; left in place: 1/now-a-folder',
    'an interrupted upload left copies of a file that cannot be restored unambiguously; left in place: 1/twice.bin',
  ]) assert.ok(messages.includes(line), `${line} in ${JSON.stringify(messages)}`);

  // What stays is still not in the fingerprint, and a second load changes nothing.
  const after = await fingerprintModel(join(repo.root, 'killed'));
  assert.deepEqual(Object.keys(after.versions['1']!).sort(), ['elsewhere/model.onnx', ...lookAlikes, 'model.onnx', 'sub/weights.bin', 'twice.bin'].sort());
  const settled = await tree(v1);
  await repository.load('killed');
  assert.deepEqual(await tree(v1), settled);
});

it('an upload killed while its copies were being removed (the `.kept` marker there): the copies go, the upload stays', async () => {
  const dir = join(repo.root, 'loaded');
  await interruptedReplace(join(dir, '1', 'model.onnx'), '5555aaaa5555', addModel(7));
  await writeFile(join(dir, '.upload-5555aaaa5555.kept'), '');
  // A marker whose copies were all removed already (killed just before the marker went): removed too.
  await writeFile(join(dir, '.upload-6666bbbb6666.kept'), '');
  const fingerprint = await fingerprintModel(dir);
  assert.deepEqual(Object.keys(fingerprint.versions['1']!), ['model.onnx']);
  assert.deepEqual(Object.keys(fingerprint.model), ['config.yaml']);

  await repository.load('loaded');
  assert.deepEqual(await infer('loaded'), [8, 9, 10, 11], 'the upload (+7) serves');
  assert.deepEqual(await tree(dir), ['1/model.onnx', 'config.yaml']);
});

it('an upload killed under explicit control is settled by a restart in `none` mode too (uploads cannot happen there, but were made before)', async () => {
  const restarted = await makeRepository({ model: { config: ADD_CONFIG, versions: { 1: addModel(1) } } });
  const v1 = join(restarted.root, 'model', '1');
  // Killed mid-upload: the new model in place, the replaced one kept aside, never confirmed to a client.
  await interruptedReplace(join(v1, 'model.onnx'), '777777777777', addModel(7));
  const none = new ModelRepository({ root: restarted.root, logger: logs.logger, controlMode: 'none' });
  try {
    await none.loadAll();
    const outputs = await none.find('model', '1').scheduler!.enqueue(
      [{ name: 'INPUT', datatype: 'FP32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) }], ['OUTPUT'], 1);
    assert.deepEqual(Array.from(outputs[0]!.data as Float32Array), [2, 3, 4, 5], 'the restored model (+1) serves, not the upload (+7)');
    assert.deepEqual(await tree(v1), ['model.onnx']);
  } finally {
    await none.close();
    await restarted.cleanup();
  }
});
